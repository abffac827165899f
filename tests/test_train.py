"""The training engine on a tiny BN CNN and synthetic images (seconds)."""

import pytest
import torch

from lsdl_ens.data import BatchLoader, ImageSet
from lsdl_ens.models import build_model
from lsdl_ens.train import Callback, evaluate, fit, predict_logits, predict_probs


def _blobs(n=128, seed=0):
    """Two classes that differ in mean colour: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    base = torch.where(labels[:, None, None, None] == 1, 170, 80)
    noise = torch.randint(-40, 41, (n, 3, 8, 8), generator=g)
    return ImageSet((base + noise).clamp(0, 255).to(torch.uint8), labels, ("dark", "light"))


def _net(seed=0):
    torch.manual_seed(seed)
    return build_model("vgg", 2, widths=(4, 8, 8, 8))


def test_fit_learns_and_records_history():
    model = _net()
    hist = fit(model, _blobs(), epochs=4, lr_schedule=0.05, batch_size=32, seed=0)
    assert len(hist.train_loss) == 4 and hist.train_loss[-1] < hist.train_loss[0]
    assert evaluate(model, _blobs(seed=1))["accuracy"] > 0.9


def test_fit_is_reproducible_on_cpu():
    a, b = _net(), _net()
    fit(a, _blobs(), epochs=2, seed=3, batch_size=32)
    fit(b, _blobs(), epochs=2, seed=3, batch_size=32)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    c = _net()
    fit(c, _blobs(), epochs=2, seed=4, batch_size=32)
    assert not torch.equal(a.head.weight, c.head.weight)


def test_lr_schedule_is_set_every_iteration_and_callbacks_fire():
    seen_lr, epochs_ended = [], []

    class Spy(Callback):
        def on_step_end(self, model, optimizer, step, loss):
            seen_lr.append((step.iteration, optimizer.param_groups[0]["lr"]))

        def on_epoch_end(self, model, optimizer, step, history):
            epochs_ended.append(step.epoch)

    fit(_net(), _blobs(64), epochs=3, batch_size=16, lr_schedule=lambda s: 0.01 * (s.iteration + 1),
        callbacks=[Spy()])
    assert [i for i, _ in seen_lr] == list(range(12))
    assert all(abs(lr - 0.01 * (i + 1)) < 1e-12 for i, lr in seen_lr)
    assert epochs_ended == [0, 1, 2]


def test_predict_for_one_model_and_a_list():
    models = [_net(0), _net(1)]
    data = _blobs(40)
    one = predict_logits(models[0], data)
    many = predict_probs(models, data)
    assert one.shape == (40, 2) and many.shape == (2, 40, 2)
    assert torch.allclose(many[0], one.softmax(-1), atol=1e-6)
    ens = evaluate(models, data)
    assert 0 <= ens["accuracy"] <= 1 and abs(ens["error"] + ens["accuracy"] - 1) < 1e-12
    assert torch.allclose(predict_logits(models[0], BatchLoader(data, 7)), one, atol=1e-5)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="weight_decay was given together with an optimizer"):
        m = _net()
        fit(m, _blobs(), epochs=1, optimizer=torch.optim.SGD(m.parameters(), lr=0.1), weight_decay=1e-4)
    with pytest.raises(ValueError, match="data must be an ImageSet"):
        fit(_net(), [1, 2], epochs=1)
    with pytest.raises(ValueError, match="models is an empty list"):
        predict_logits([], _blobs())
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(_net(), _blobs(), epochs=1, batch_size=32,
            train_step=lambda m, b, o, s: (torch.tensor(float("nan")), torch.tensor(0), len(b[1])))


def test_evaluate_on_a_shuffled_loader_matches_ordered_data():
    model, data = _net(), _blobs(64)
    ordered = evaluate(model, data)
    shuffled = evaluate(model, BatchLoader(data, 16, shuffle=True, seed=1))
    assert abs(ordered["loss"] - shuffled["loss"]) < 1e-5 and ordered["accuracy"] == shuffled["accuracy"]
    with pytest.raises(ValueError, match="shuffled BatchLoader"):
        evaluate([model, _net(1)], BatchLoader(data, 16, shuffle=True))
