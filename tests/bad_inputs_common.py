"""Shared ingredients of the bad-input tests (``test_bad_inputs_*.py``): tiny models, states and tensors, and the
one assertion every case makes.

A case is ``case(call, exception type, substring, id)``: ``call`` makes one bad call, it must raise exactly that
exception type, and the substring (usually the argument's name) must appear in the message.
"""

from __future__ import annotations

import pytest
import torch
from _tiny import blob_images, tiny_mlp

from lsdl_ens.ensembles import SWAG, KFACLaplace
from lsdl_ens.models import build_model
from lsdl_ens.train import fit
from lsdl_ens.tta import SimpleTokenizer, TinyCLIP

NAN, INF = float("nan"), float("inf")


# ---------------------------------------------------------------------------------------------- tiny ingredients
def mlp(seed=0):
    return tiny_mlp(seed, hidden=(4,))


def sd(seed=0):
    return mlp(seed).state_dict()


def other_sd():
    return tiny_mlp(0, hidden=(5,)).state_dict()


def missing_sd():
    s = sd()
    s.pop("head.bias")
    return s


def meta_sd():
    return {k: v.to("meta") for k, v in sd().items()}


def probs(n=4, c=3, seed=0):
    return torch.randn(n, c, generator=torch.Generator().manual_seed(seed)).softmax(1)


def labels(n=4):
    return torch.tensor([0, 1, 2, 0][:n] + [1] * max(0, n - 4))


def data(n=8, num_classes=10):
    return blob_images(n=n, size=8, num_classes=num_classes)


def cnn(num_classes=10):
    torch.manual_seed(0)
    return build_model("vgg", widths=(4, 8, 8, 8), num_classes=num_classes)


def sgd():
    return torch.optim.SGD(mlp().parameters(), lr=0.1)


def params():
    return mlp().parameters()


def clip():
    from lsdl_ens.data import CIFAR10_CLASSES
    from lsdl_ens.tta.templates import CAPTION_TEMPLATES

    torch.manual_seed(0)
    tok = SimpleTokenizer.from_texts([t.format(c) for t in CAPTION_TEMPLATES for c in CIFAR10_CLASSES[:3]])
    return TinyCLIP(tok, widths=(4, 8), embed_dim=8, text_width=8, text_heads=2)


CLASSES = ["airplane", "automobile", "bird"]


def fitted_kfac(**kw):
    model = mlp()
    x, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    return KFACLaplace(model, 1.0, 8, **kw).fit([(x, y)]), model


def swag_with(n):
    model = mlp()
    swag = SWAG(model, max_rank=2)
    for _ in range(n):
        swag.collect(model)
    return swag


def with_env(name, value, call):
    import os

    before = os.environ.get(name)
    os.environ[name] = value
    try:
        return call()
    finally:
        if before is None:
            os.environ.pop(name)
        else:
            os.environ[name] = before


def fit_tiny(**kw):
    args = dict(epochs=1, batch_size=8, lr_schedule=0.05, progress=False)
    args.update(kw)
    model = args.pop("model", None) or cnn()
    return fit(model, args.pop("data", None) or data(), **args)


def nan_weights_step(model, batch, optimizer, step):
    """A training step whose update leaves NaN weights behind a finite loss (as a huge step on one batch can)."""
    with torch.no_grad():
        model.head.weight.fill_(NAN)
    return torch.tensor(1.0), torch.tensor(0), len(batch[1])


class Counting:
    """An evaluate(state) returning the next value of ``values`` at each call."""

    def __init__(self, *values):
        self.values = list(values)

    def __call__(self, state_):
        return self.values.pop(0)


def case(call, exc, text, id):
    """One bad call as a pytest parameter named ``id``."""
    return pytest.param(call, exc, text, id=id)


def assert_clear_error(call, exception, text):
    """``call()`` raises exactly ``exception`` (not a subclass) and its message contains ``text``."""
    with pytest.raises(exception) as info:
        call()
    assert type(info.value) is exception, f"expected exactly {exception.__name__}, got {type(info.value).__name__}"
    assert text in str(info.value), f"message does not name {text!r}: {info.value}"
