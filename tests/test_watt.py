"""WATT: loss against a direct double loop of the formula, B = 1 refused, weight averaging, the parallel and
sequential schedules against a hand-rolled reference, episodic reset, only visual LayerNorms adapt, TENT."""

import copy

import pytest
import torch
import torch.nn.functional as F

from lsdl_ens.data import CIFAR10_CLASSES
from lsdl_ens.tta import (TENT, WATT, WATT_TEMPLATES, SimpleTokenizer, TinyCLIP, average_weights, entropy_loss,
                          text_ensemble, visual_norm_params, watt_loss)
from lsdl_ens.tta.templates import CAPTION_TEMPLATES


def _model(seed=0):
    torch.manual_seed(seed)
    tok = SimpleTokenizer.from_texts([t.format(c) for t in CAPTION_TEMPLATES for c in CIFAR10_CLASSES])
    return TinyCLIP(tok, widths=(8, 16), embed_dim=16, text_width=16, text_heads=2)


def _images(n=6, seed=0):
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_templates_are_the_reference_eight():
    assert len(WATT_TEMPLATES) == 8
    assert WATT_TEMPLATES[0] == "a photo of a {}" and "a {} in a video game." in WATT_TEMPLATES


def test_watt_loss_matches_direct_formula():
    g = torch.Generator().manual_seed(0)
    b, d, s, tau = 7, 5, 37.0, 0.05
    img = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=-1)
    txt = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=-1)
    # P[i, j] = s <T_i, I_j>; Q = row-softmax of (<I_i, I_j> + <T_i, T_j>) / (2 tau)
    P = [[s * float(txt[i] @ img[j]) for j in range(b)] for i in range(b)]
    A = [[(float(img[i] @ img[j]) + float(txt[i] @ txt[j])) / (2 * tau) for j in range(b)] for i in range(b)]
    import math
    Q = [[math.exp(A[i][j]) / sum(math.exp(a) for a in A[i]) for j in range(b)] for i in range(b)]
    total = 0.0
    for j in range(b):  # row j of P^T: image j against all texts i
        log_norm = math.log(sum(math.exp(P[i][j]) for i in range(b)))
        total += -sum(Q[i][j] * (P[i][j] - log_norm) for i in range(b))
    expected = total / b
    assert watt_loss(img, txt, s, tau) == pytest.approx(expected, rel=1e-10)


def test_watt_loss_is_zero_for_one_image_and_checks_shapes():
    img = F.normalize(torch.randn(1, 4), dim=-1)
    assert float(watt_loss(img, img, 100.0)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="B x D"):
        watt_loss(torch.randn(3, 4), torch.randn(2, 4), 100.0)


def test_batch_size_one_is_refused_with_a_clear_error():
    model = _model()
    for adapter in (WATT(model, CIFAR10_CLASSES, n_iters=1, n_rounds=1), TENT(model, CIFAR10_CLASSES, n_steps=1)):
        with pytest.raises(ValueError, match="batch of at least 2 images"):
            adapter.adapt(_images(1))


def test_only_visual_layernorm_affine_parameters_adapt():
    model = _model()
    before = copy.deepcopy(model.state_dict())
    watt = WATT(model, CIFAR10_CLASSES, mode="parallel", n_iters=2, n_rounds=2, lr=1e-2)
    names = {n for n, _ in visual_norm_params(model)}
    assert names == {"visual.body.1.weight", "visual.body.1.bias", "visual.body.5.weight", "visual.body.5.bias",
                     "visual.ln_post.weight", "visual.ln_post.bias"}
    watt.adapt(_images())
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and changed <= names
    watt.reset()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def _reference_watt(model, images, mode, L, M, lr=1e-2, tau=0.01):
    """A direct transcription of the published schedule (reference adapt/watt.py), for comparison."""
    params = [p for _, p in visual_norm_params(model)]
    init = [p.detach().clone() for p in params]
    texts = torch.stack([F.normalize(model.encode_text(model.tokenizer([t.format(c) for c in CIFAR10_CLASSES])),
                                     dim=-1) for t in WATT_TEMPLATES]).detach()
    opt = torch.optim.Adam(params, lr=lr)
    fresh = copy.deepcopy(opt.state_dict())
    avg = init
    for m in range(M):
        weights = []
        if mode == "sequential":
            with torch.no_grad():
                for p, w in zip(params, init if m == 0 else avg):
                    p.copy_(w)
        for text in texts:
            if mode == "parallel":
                with torch.no_grad():
                    for p, w in zip(params, init if m == 0 else avg):
                        p.copy_(w)
                if m == 0:
                    opt.load_state_dict(fresh)
            for _ in range(L):
                with torch.no_grad():
                    pred = (F.normalize(model.encode_image(images), dim=-1) @ text.T).argmax(1)
                img = F.normalize(model.encode_image(images), dim=-1)
                t = text[pred]
                logits = model.logit_scale.exp() * t @ img.T
                targets = F.softmax((img @ img.T + t @ t.T) / 2 / tau, dim=-1)
                loss = (-targets.T * F.log_softmax(logits.T, dim=-1)).sum(1).mean()
                loss.backward()
                opt.step()
                opt.zero_grad()
            weights.append([p.detach().clone() for p in params])
        avg = [torch.stack(ws).mean(0) for ws in zip(*weights)]
    return avg


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_schedule_matches_reference_transcription(mode):
    model = _model()
    images = _images()
    watt = WATT(model, CIFAR10_CLASSES, mode=mode, n_iters=2, n_rounds=2, lr=1e-2)
    watt.adapt(images)
    ours = watt.get_weights()
    assert len(watt.trace) == 2 * 2 * 8
    ref_model = _model()
    ref_model.requires_grad_(False)
    for _, p in visual_norm_params(ref_model):
        p.requires_grad_(True)
    ref = _reference_watt(ref_model, images, mode, L=2, M=2)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # episodic: a second adapt on the same batch gives the same weights
    watt.adapt(images)
    for a, b in zip(ours, watt.get_weights()):
        torch.testing.assert_close(a, b)


def test_average_weights_and_text_ensemble():
    a, b = [torch.ones(2), torch.zeros(3)], [torch.zeros(2), torch.ones(3)]
    avg = average_weights([a, b])
    assert torch.equal(avg[0], torch.full((2,), 0.5)) and torch.equal(avg[1], torch.full((3,), 0.5))
    model = _model()
    ens = text_ensemble(model, CIFAR10_CLASSES)
    assert ens.shape == (10, 16)
    torch.testing.assert_close(ens.norm(dim=-1), torch.ones(10))


def test_output_and_text_modes_and_tent_run():
    model = _model()
    images = _images(4)
    for mode in ("text", "output"):
        watt = WATT(model, CIFAR10_CLASSES, mode=mode, n_iters=1, n_rounds=2)
        labels = watt.adapt_predict(images)
        assert labels.shape == (4,) and labels.dtype == torch.long
    probs = WATT(model, CIFAR10_CLASSES, mode="output", n_iters=1, n_rounds=1)
    probs.adapt(images)
    assert torch.allclose(probs.logits(images).exp().sum(1), torch.ones(4), atol=1e-5)
    tent = TENT(model, CIFAR10_CLASSES, n_steps=3, lr=1e-2)
    x = images
    with torch.no_grad():
        before = float(entropy_loss(model.logit_scale.exp() * tent.image_features(x) @ tent.text_avg.T))
    tent.adapt(x)
    with torch.no_grad():
        after = float(entropy_loss(model.logit_scale.exp() * tent.image_features(x) @ tent.text_avg.T))
    assert after < before
    with pytest.raises(ValueError, match="mode must be"):
        WATT(model, CIFAR10_CLASSES, mode="both")
