"""Tests for lsdl_ens.models: the model contract, the registry, parameter counts, init determinism."""

import pytest
import torch
from torch import nn

from _tiny import one_thread  # noqa: F401  (one intra-op thread per test module)
from lsdl_ens.models import (
    MLP, MODEL_NAMES, ResNet, VGG, WideResNet, build_model, count_parameters, replace_head,
)

# Expected stage_outputs (name -> per-example shape) for a [2, 3, 32, 32] input ([4, 2] for the MLP).
_RES16 = {"stem": (16, 32, 32), "stage1": (16, 32, 32), "stage2": (32, 16, 16), "stage3": (64, 8, 8),
          "pool": (64,)}
EXPECTED_STAGES = {
    "resnet8": _RES16, "resnet20": _RES16, "preresnet8": _RES16, "preresnet20": _RES16,
    "vgg": {"stage1": (16, 32, 32), "stage2": (32, 16, 16), "stage3": (64, 8, 8), "stage4": (128, 4, 4),
            "pool": (128,)},
    "wrn10_2": {"stem": (16, 32, 32), "stage1": (32, 32, 32), "stage2": (64, 16, 16), "stage3": (128, 8, 8),
                "pool": (128,)},
    "wrn16_4": {"stem": (16, 32, 32), "stage1": (64, 32, 32), "stage2": (128, 16, 16), "stage3": (256, 8, 8),
                "pool": (256,)},
    "mlp": {"hidden1": (32,), "hidden2": (32,)},
}
EXPECTED_STAGES["vgg_nobn"] = EXPECTED_STAGES["vgg"]
DEFAULT_CLASSES = {name: 2 if name == "mlp" else 10 for name in EXPECTED_STAGES}



def _input(name, batch=2):
    g = torch.Generator().manual_seed(123)
    shape = (2 * batch, 2) if name == "mlp" else (batch, 3, 32, 32)
    return torch.randn(shape, generator=g)


def _build(name, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(name, **kw)


def test_registry_covers_expected_names():
    assert set(MODEL_NAMES) == set(EXPECTED_STAGES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_contract(name):
    model = _build(name).eval()
    x = _input(name)
    with torch.no_grad():
        logits, feats, stages = model(x), model.features(x), model.stage_outputs(x)
    assert logits.shape == (x.shape[0], DEFAULT_CLASSES[name])
    assert isinstance(model.head, nn.Linear) and model.head.in_features == model.num_features
    assert feats.shape == (x.shape[0], model.num_features)
    assert torch.equal(logits, model.head(feats))
    assert list(stages) == list(EXPECTED_STAGES[name])
    for key, shape in EXPECTED_STAGES[name].items():
        assert tuple(stages[key].shape) == (x.shape[0], *shape), key
    assert torch.equal(list(stages.values())[-1], feats)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_backward_reaches_every_parameter(name):
    model = _build(name).train()
    x = _input(name)
    model(x).logsumexp(dim=1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_same_seed_same_init_different_seed_different(name):
    a, b, c = _build(name, seed=7).state_dict(), _build(name, seed=7).state_dict(), _build(name, seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resnet8_parameter_count_exact():
    # stem conv 3*16*9 + BN; stage1: two 16->16 convs + 2 BN; stage2: 16->32, 32->32 convs + 2 BN + 1x1 proj + BN;
    # stage3 likewise 32->64; head 64*10 + 10.
    stem = 3 * 16 * 9 + 32
    stage1 = 2 * 16 * 16 * 9 + 2 * 32
    stage2 = 16 * 32 * 9 + 32 * 32 * 9 + 2 * 64 + 16 * 32 + 64
    stage3 = 32 * 64 * 9 + 64 * 64 * 9 + 2 * 128 + 32 * 64 + 128
    assert count_parameters(_build("resnet8")) == stem + stage1 + stage2 + stage3 + 650 == 78_042


def test_vgg_parameter_count_exact():
    convs = 3 * 16 * 9 + 16 * 32 * 9 + 32 * 64 * 9 + 64 * 128 * 9
    bn = 2 * (16 + 32 + 64 + 128)
    assert count_parameters(_build("vgg")) == convs + bn + 128 * 10 + 10
    assert count_parameters(_build("vgg_nobn")) == convs + (16 + 32 + 64 + 128) + 128 * 10 + 10


@pytest.mark.parametrize("name, target, tol", [
    ("resnet8", 78e3, 0.10), ("resnet20", 0.27e6, 0.05), ("vgg", 99e3, 0.15), ("wrn16_4", 2.75e6, 0.05),
    ("preresnet8", 78e3, 0.10), ("preresnet20", 0.27e6, 0.05),
])
def test_parameter_counts_in_range(name, target, tol):
    assert abs(count_parameters(_build(name)) - target) <= tol * target


def test_width_override_and_option_a_shortcut():
    assert abs(count_parameters(build_model("resnet8", width=32)) - 309e3) < 0.01 * 309e3
    a, b = build_model("resnet20", shortcut="A"), build_model("resnet20")
    assert count_parameters(a) < count_parameters(b)
    assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in a.modules())
    assert a(_input("resnet20")).shape == (2, 10)
    pre_a = build_model("preresnet8", shortcut="A").eval()
    assert pre_a.stage_outputs(_input("resnet8"))["stage3"].shape == (2, 64, 8, 8)


def test_vgg_convs_per_stage_and_depth():
    model = build_model("vgg", convs=(1, 2, 2, 3))
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 8
    assert model(_input("vgg")).shape == (2, 10)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_batchnorm_presence(name):
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in _build(name).modules())
    assert has_bn == (name not in ("vgg_nobn", "mlp"))


def test_mlp_bn_variant_and_class_defaults():
    model = MLP(hidden=(8, 8, 8), bn=True)
    assert any(isinstance(m, nn.BatchNorm1d) for m in model.modules())
    assert list(model.stage_outputs(torch.randn(5, 2))) == ["hidden1", "hidden2", "hidden3"]
    assert isinstance(build_model("resnet8"), ResNet) and isinstance(build_model("vgg"), VGG)
    assert isinstance(build_model("wrn10_2"), WideResNet)


@pytest.mark.parametrize("name", ["resnet8", "vgg", "mlp"])
def test_replace_head_changes_output_keeps_features(name):
    model = _build(name).eval()
    x = _input(name)
    with torch.no_grad():
        before = model.features(x)
        returned = replace_head(model, 7)
        after, logits = model.features(x), model(x)
    assert returned is model
    assert logits.shape == (x.shape[0], 7) and model.head.out_features == 7
    assert torch.equal(before, after)


def test_replace_head_seed_is_reproducible_and_leaves_global_rng():
    m1, m2 = _build("resnet8"), _build("resnet8")
    torch.manual_seed(99)
    state = torch.get_rng_state()
    m1.replace_head(5, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    replace_head(m2, 5, seed=3)
    assert torch.equal(m1.head.weight, m2.head.weight) and m1.num_classes == 5
    replace_head(m2, 5, seed=4)
    assert not torch.equal(m1.head.weight, m2.head.weight)


def test_unknown_name_and_kwarg_errors():
    with pytest.raises(ValueError, match=r"unknown model name 'resnet9'.*resnet8"):
        build_model("resnet9")
    with pytest.raises(TypeError, match=r"'widht'.*width"):
        build_model("resnet8", widht=32)
    with pytest.raises(ValueError, match=r"6n\+2"):
        build_model("resnet8", depth=9)
    with pytest.raises(ValueError, match=r"6n\+4"):
        build_model("wrn16_4", depth=16 + 2)
