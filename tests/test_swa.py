"""Tests for lsdl_ens.averaging.swa: the SWA collector against torch.optim.swa_utils on the same run, the averaging
formula, cycle bookkeeping, BN handling and argument checks."""

import copy

import pytest
import torch
from torch.optim.swa_utils import AveragedModel
from torch.optim.swa_utils import update_bn as torch_update_bn

from _tiny import blob_images, image_batches, one_thread, tiny_cnn  # noqa: F401
from lsdl_ens.averaging import SWACollector, swa_model
from lsdl_ens.data import BatchLoader
from lsdl_ens.schedules import make_schedule, swa_lr
from lsdl_ens.train import Callback, fit


class TorchSWA(Callback):
    """The peer implementation: AveragedModel updated at the same epoch ends."""

    def __init__(self, swa_start):
        self.swa_start, self.averaged = swa_start, None

    def on_epoch_end(self, model, optimizer, step, history):
        if step.epoch + 1 >= self.swa_start:
            if self.averaged is None:
                self.averaged = AveragedModel(model)
            self.averaged.update_parameters(model)


def _run(epochs=6, swa_start=3, cycle=1):
    data = blob_images(96, seed=0)
    model = tiny_cnn(seed=0)
    ours, peer = SWACollector(swa_start, cycle_epochs=cycle, keep_iterates=True), TorchSWA(swa_start)
    loader = BatchLoader(data, 16, shuffle=True, augment=True, seed=0)
    fit(model, loader, epochs=epochs, lr_schedule=lambda s: swa_lr(s.epoch_float, 0.05, 0.01, swa_start),
        callbacks=[ours, peer], seed=0, progress=False)
    return model, ours, peer, data


def test_swa_matches_averaged_model_and_update_bn():
    model, ours, peer, data = _run()
    assert ours.n_averaged == 4 and int(peer.averaged.n_averaged) == 4
    batches = image_batches(data, 16, augment=True, seed=3)
    ref = peer.averaged.module
    torch_update_bn(batches, ref)
    mine = swa_model(model, ours.state, batches)
    ref_state, my_state = ref.state_dict(), mine.state_dict()
    assert ref_state.keys() == my_state.keys()
    for key, value in ref_state.items():
        torch.testing.assert_close(my_state[key], value, atol=1e-6, rtol=1e-5, msg=f"mismatch at {key}")
    x = batches[0][0]
    torch.testing.assert_close(mine.eval()(x), ref.eval()(x), atol=1e-5, rtol=1e-5)


def test_average_is_the_mean_of_the_collected_iterates():
    model, ours, _, _ = _run(epochs=5, swa_start=2)
    assert ours.epochs == [2, 3, 4, 5]
    keys = [n for n, _ in model.named_parameters()]
    for key in keys:
        mean = torch.stack([it[key].double() for it in ours.iterates]).mean(0).float()
        torch.testing.assert_close(ours.state[key], mean, atol=1e-7, rtol=1e-6)
    # buffers belong to the last iterate, integer counters keep their dtype
    last = ours.iterates[-1]
    for key, value in ours.state.items():
        if key not in keys:
            assert torch.equal(value, last[key]) and value.dtype == last[key].dtype


def test_cycle_epochs_average_every_cycle_end():
    _, ours, _, _ = _run(epochs=7, swa_start=3, cycle=2)
    assert ours.epochs == [3, 5, 7] and ours.n_averaged == 3
    c = SWACollector(1, cycle_epochs=3)
    assert [e for e in range(1, 10) if c.due(e)] == [1, 4, 7]


def test_collect_without_fit_and_weights_of_the_average():
    a, b = tiny_cnn(seed=1), tiny_cnn(seed=2)
    c = SWACollector(1)
    c.collect(a)
    c.collect(b)
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(c.state[name], (pa + pb).detach() / 2)


def test_bn_must_be_recomputed():
    model, ours, _, data = _run()
    stale = copy.deepcopy(model)
    stale.load_state_dict(ours.state)
    fresh = swa_model(model, ours.state, image_batches(data, 16))
    bn_key = next(k for k in fresh.state_dict() if k.endswith("running_mean"))
    assert not torch.allclose(stale.state_dict()[bn_key], fresh.state_dict()[bn_key])


def test_argument_checks():
    with pytest.raises(ValueError, match="swa_start"):
        SWACollector(0)
    with pytest.raises(ValueError, match="cycle_epochs"):
        SWACollector(2, cycle_epochs=0)
    with pytest.raises(ValueError, match="no iterate"):
        _ = SWACollector(2).state


def test_runner_schedule_is_the_reference_swa_schedule():
    """train_swa trains with make_schedule of its recipe; for an SWA recipe that is the reference schedule."""
    from lsdl_ens.train import TrainStep

    recipe = {"schedule": "swa", "schedule_kw": {"swa_start": 9, "swa_lr": 0.01}, "lr": 0.05, "epochs": 18}
    fn = make_schedule(recipe["schedule"], epochs=recipe["epochs"], lr=recipe["lr"], **recipe["schedule_kw"])
    for epoch in range(18):
        step = TrainStep(epoch * 10, epoch, 0, 10, 18)
        assert fn(step) == pytest.approx(swa_lr(epoch, 0.05, 0.01, 9))
    assert fn(TrainStep(170, 17, 0, 10, 18)) == pytest.approx(0.01)
    assert fn(TrainStep(0, 0, 0, 10, 18)) == pytest.approx(0.05)
