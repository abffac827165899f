"""Tests for lsdl_ens.averaging: random-ray width, the SGD-SWA line, WiSE-FT sweeps and the fine-tuning sweep's
configurations."""

import copy

import numpy as np
import pytest
import torch

from _tiny import blob_images, image_batches, one_thread, tiny_cnn  # noqa: F401
from lsdl_ens.averaging import random_directions, random_ray_width, sgd_swa_line, wise_ft, wise_ft_sweep
from lsdl_ens.bn import update_bn
from lsdl_ens.experiments.weight_averaging_sweep import sweep_configs
from lsdl_ens.landscape import linear_path
from lsdl_ens.profiles import get_profile
from lsdl_ens.state import distance, flatten, parameter_keys, unflatten
from lsdl_ens.train import evaluate


def test_random_directions_are_unit_and_reproducible():
    state = tiny_cnn().state_dict()
    keys = parameter_keys(tiny_cnn())
    d = random_directions(state, keys, 4, seed=3)
    assert d.shape == (4, flatten(state, keys).numel())
    torch.testing.assert_close(d.norm(dim=1), torch.ones(4, dtype=torch.float64))
    assert torch.equal(d, random_directions(state, keys, 4, seed=3))
    assert not torch.equal(d, random_directions(state, keys, 4, seed=4))
    with pytest.raises(ValueError, match="n must"):
        random_directions(state, keys, 0)


def test_random_ray_width_at_zero_is_the_centre_and_grows():
    data = blob_images(64, seed=0)
    batches = image_batches(data, 16)
    model = tiny_cnn(seed=0)
    from lsdl_ens.train import fit

    fit(model, data, epochs=5, lr_schedule=0.05, batch_size=16, progress=False)
    state = copy.deepcopy(model.state_dict())
    out = random_ray_width(model, state, data, distances=[0.0, 1.0, 30.0], n_directions=2, bn_data=batches,
                           progress=False)
    assert out["loss"].shape == (2, 3) and out["error"].shape == (2, 3)
    manual = copy.deepcopy(model)
    update_bn(manual, batches)
    ref = evaluate(manual, data)
    np.testing.assert_allclose(out["loss"][:, 0], ref["loss"], rtol=1e-5)
    assert (out["loss"][:, 2] > out["loss"][:, 0]).all()
    keys = parameter_keys(model)  # ray 1 at distance 1 by hand: rows are rays, columns distances
    point = copy.deepcopy(model)
    point.load_state_dict(unflatten(flatten(state, keys).double() + random_directions(state, keys, 2)[1], state, keys))
    update_bn(point, batches)
    np.testing.assert_allclose(out["loss"][1, 1], evaluate(point, data)["loss"], rtol=1e-5)
    for key, value in model.state_dict().items():  # template restored
        assert torch.equal(value, state[key])


def test_sgd_swa_line_distances():
    data = blob_images(48, seed=0)
    a, b = tiny_cnn(seed=0), tiny_cnn(seed=1)
    line = sgd_swa_line(a, a.state_dict(), b.state_dict(), data, ts=[-0.5, 0.0, 1.0],
                        bn_data=image_batches(data, 16), progress=False)
    d = distance(a.state_dict(), b.state_dict(), parameter_keys(a))
    np.testing.assert_allclose(line["distances"], [-0.5 * d, 0.0, d])
    assert line["sgd_distance"] == pytest.approx(d)
    assert line["loss"].shape == (3,)
    path = linear_path(a, a.state_dict(), b.state_dict(), data, alphas=[-0.5, 0.0, 1.0],
                       bn_data=image_batches(data, 16), progress=False)  # the line from SWA (a) to SGD (b)
    for key in ("alphas", "loss", "error"):
        np.testing.assert_array_equal(line[key], path[key])


def test_wise_ft_endpoints_and_sweep():
    s0, s1 = tiny_cnn(seed=0).state_dict(), tiny_cnn(seed=1).state_dict()
    for key in s0:
        if s0[key].is_floating_point():
            torch.testing.assert_close(wise_ft(s0, s1, 0.0)[key], s0[key])
            torch.testing.assert_close(wise_ft(s0, s1, 1.0)[key], s1[key])
            torch.testing.assert_close(wise_ft(s0, s1, 0.25)[key], 0.75 * s0[key] + 0.25 * s1[key])
    key = "head.weight"
    rows = wise_ft_sweep(s0, s1, lambda s: {"id": s[key].sum().item(), "ood": 1.0})
    assert [r["alpha"] for r in rows] == pytest.approx(np.linspace(0, 1, 11).tolist())
    assert rows[0]["id"] == pytest.approx(s0[key].sum().item(), rel=1e-5)
    assert rows[-1]["id"] == pytest.approx(s1[key].sum().item(), rel=1e-5)
    rows = wise_ft_sweep(s0, s1, lambda s: 0.5, alphas=[0.3])
    assert rows == [{"alpha": 0.3, "score": 0.5}]
    bad = dict(s1)
    del bad[key]
    with pytest.raises(ValueError, match=r"head\.weight"):
        wise_ft_sweep(s0, bad, lambda s: 0.0)


def test_sweep_configs_grid_and_determinism():
    configs = sweep_configs("cpu")
    sizes = get_profile("cpu").sweep
    assert len(configs) == len(sizes.lrs) * sizes.n_seeds
    assert sorted({c["lr"] for c in configs}) == sorted(sizes.lrs)
    assert configs == sweep_configs("cpu")
    assert configs != sweep_configs("cpu", sweep_seed=1)
    assert {c["seed"] for c in configs} == set(range(sizes.n_seeds))
    assert {tuple(sorted(c)) for c in configs} == {("augment", "label_smoothing", "lr", "seed", "weight_decay")}
    assert len(sweep_configs("smoke", lrs=[0.1], n_seeds=2)) == 2
    with pytest.raises(ValueError, match="n_seeds"):
        sweep_configs("smoke", n_seeds=0)


def test_augmentation_strengths_reach_the_loader():
    from lsdl_ens.data import AUGMENT_STRENGTHS, augmentation_kwargs

    assert augmentation_kwargs(True) == AUGMENT_STRENGTHS["standard"]
    assert augmentation_kwargs(False) == {"augment": False}
    paddings = [augmentation_kwargs(name).get("crop_padding", 0) for name in ("none", "weak", "standard", "strong")]
    assert paddings == sorted(paddings) and len(set(paddings)) == 4  # strictly stronger
    with pytest.raises(ValueError, match="augment must be"):
        augmentation_kwargs("medium")
    from lsdl_ens.data import BatchLoader

    data = blob_images(32)  # the loader honours the padding: a strong crop moves more pixels than a weak one
    x0, _ = next(iter(BatchLoader(data, 32, seed=0, augment=False)))
    diffs = {}
    for name in ("weak", "strong"):
        x, _ = next(iter(BatchLoader(data, 32, seed=0, **augmentation_kwargs(name))))
        diffs[name] = (x - x0).abs().mean().item()
    assert diffs["strong"] > diffs["weak"] > 0
    assert {c["augment"] for c in sweep_configs("cpu")} <= set(AUGMENT_STRENGTHS)
