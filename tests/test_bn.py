"""Tests for lsdl_ens.bn: parity with torch.optim.swa_utils.update_bn, restored modes and momenta, no-ops."""

import copy

import pytest
import torch
from torch.optim.swa_utils import update_bn as torch_update_bn

from _tiny import blob_images, image_batches, one_thread, tiny_cnn, tiny_mlp  # noqa: F401
from lsdl_ens.bn import has_bn, update_bn


def _bn_buffers(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}


def _scrambled_cnn(seed=0):
    """A BN CNN whose running statistics are wrong (as after averaging) and with unusual momenta."""
    model = tiny_cnn(seed=seed)
    for i, m in enumerate(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        m.running_mean.fill_(5.0)
        m.running_var.fill_(0.1)
        m.num_batches_tracked.fill_(123)
        m.momentum = 0.1 + 0.05 * i
    return model


def test_has_bn():
    assert has_bn(tiny_cnn())
    assert not has_bn(tiny_cnn(bn=False))
    assert has_bn(tiny_mlp(bn=True)) and not has_bn(tiny_mlp())


@pytest.mark.parametrize("tuples", [True, False])
def test_matches_torch_swa_utils(tuples):
    batches = image_batches(blob_images(n=70, seed=1), batch_size=16, augment=True)  # short last batch
    if not tuples:
        batches = [x for x, _ in batches]
    ours, theirs = _scrambled_cnn(), _scrambled_cnn()
    update_bn(ours, batches)
    torch_update_bn(batches, theirs)
    a, b = _bn_buffers(ours), _bn_buffers(theirs)
    assert set(a) == set(b) and len(a) == 12
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-7)
    assert int(a["stage1.1.num_batches_tracked"]) == len(batches)


def test_cumulative_mean_over_batches_by_hand():
    """momentum=None: running_mean = mean over batches of the per-batch channel means of the BN input."""
    batches = image_batches(blob_images(n=48, seed=2), batch_size=16)
    model = _scrambled_cnn()
    conv = model.stage1[0]
    with torch.no_grad():
        means = [conv(x).mean(dim=(0, 2, 3)) for x, _ in batches]
        variances = [conv(x).transpose(0, 1).reshape(4, -1).var(dim=1, unbiased=True) for x, _ in batches]
    update_bn(model, batches)
    bn = model.stage1[1]
    torch.testing.assert_close(bn.running_mean, torch.stack(means).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, torch.stack(variances).mean(0), rtol=1e-5, atol=1e-6)


def test_restores_mode_and_momentum_and_changes_stats():
    batches = image_batches(blob_images(n=32), batch_size=16)
    model = _scrambled_cnn()
    momenta = [m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = _bn_buffers(model)
    model.eval()
    model.stage2.train()  # a mixed mode must survive too
    modes = [m.training for m in model.modules()]
    update_bn(model, batches)
    assert [m.training for m in model.modules()] == modes
    assert [m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)] == momenta
    after = _bn_buffers(model)
    assert not torch.equal(before["stage1.1.running_mean"], after["stage1.1.running_mean"])


def test_num_batches_limits_the_pass():
    batches = image_batches(blob_images(n=64), batch_size=16)
    limited, reference = _scrambled_cnn(), _scrambled_cnn()
    update_bn(limited, batches, num_batches=2)
    torch_update_bn(batches[:2], reference)
    for k, v in _bn_buffers(limited).items():
        torch.testing.assert_close(v, _bn_buffers(reference)[k])
    with pytest.raises(ValueError, match="num_batches must be >= 1"):
        update_bn(limited, batches, num_batches=0)


def test_imageset_input_and_forward_fn():
    data = blob_images(n=40)
    direct, via_set, via_fn = _scrambled_cnn(), _scrambled_cnn(), _scrambled_cnn()
    update_bn(direct, image_batches(data, batch_size=128))
    update_bn(via_set, data)
    calls = []
    update_bn(via_fn, image_batches(data, batch_size=128), forward_fn=lambda m, x: calls.append(m(x)))
    assert len(calls) == 1
    for k, v in _bn_buffers(direct).items():
        torch.testing.assert_close(v, _bn_buffers(via_set)[k])
        torch.testing.assert_close(v, _bn_buffers(via_fn)[k])


def test_no_op_without_bn_and_error_on_empty_batches():
    model = tiny_cnn(bn=False)
    state = copy.deepcopy(model.state_dict())

    def never_read():
        raise AssertionError("update_bn must not read batches of a BN-free model")
        yield

    update_bn(model, never_read())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())

    bn_model = _scrambled_cnn()
    before = _bn_buffers(bn_model)
    with pytest.raises(ValueError, match="batches yielded no batch"):
        update_bn(bn_model, [])
    for k, v in _bn_buffers(bn_model).items():
        assert torch.equal(v, before[k])
