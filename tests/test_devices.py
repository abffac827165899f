"""Device placement on a CPU-only machine: the fake device of `fake_device.py` (``meta`` computing on the CPU)
stands in for a GPU. Each path runs once on the CPU and once on the fake device and must give the same numbers,
without mixing devices (a mix raises, as on CUDA)."""

import contextlib

import pytest
import torch

import lsdl_ens.recipes
from _tiny import blob_images, image_batches, one_thread, tiny_cnn  # noqa: F401
from device_smoke import SMOKE_PATHS, TOLERANCE
from fake_device import CrossDeviceError, fake_device
from lsdl_ens.data import BatchLoader
from lsdl_ens.ensembles import KFACLaplace
from lsdl_ens.ensembles.csgld import CyclicalSGLD, run_csgld
from lsdl_ens.experiments import mode_connectivity as E
from lsdl_ens.recipes import standard_recipe
from lsdl_ens.train import default_device, fit

DEV = "meta"


# ------------------------------------------------------------------------------------------- the checker itself
def test_fake_device_raises_where_cuda_would_and_counts_syncs():
    with fake_device() as mode:
        x = torch.ones(3, 3, device=DEV)
        with pytest.raises(CrossDeviceError, match="two devices"):
            x @ torch.eye(3)
        with pytest.raises(CrossDeviceError, match="generator"):
            torch.randn(3, generator=torch.Generator().manual_seed(0), device=DEV)
        y = x * torch.tensor(2.0)                   # a 0-dim CPU scalar is fine on CUDA too
        assert y.device.type == DEV and float(y.sum()) == 18.0
        assert mode.syncs == 1
        z = torch.tensor([1.0, 2.0], device=DEV) + torch.arange(2, device=DEV)
        assert z.cpu().tolist() == [1.0, 3.0]
        z[torch.tensor([0])] = torch.tensor(5.0)   # CPU indices and a CPU scalar: fine on CUDA
        assert z.cpu().tolist() == [5.0, 3.0]
        with pytest.raises(CrossDeviceError, match="two devices"):
            z[torch.tensor([0, 1])] = torch.ones(2)
        with pytest.raises(CrossDeviceError, match="on the CPU"):
            with fake_device(forbid_host_ops={"convolution"}):
                torch.nn.functional.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 1, 1))


def test_default_device_honours_lsdl_device(monkeypatch):
    monkeypatch.setenv("LSDL_DEVICE", "meta")
    assert default_device() == torch.device("meta")
    monkeypatch.setenv("LSDL_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="LSDL_DEVICE"):
        default_device()


# ------------------------------------------------------------------------------------------- fit
def test_fit_on_the_fake_device_equals_cpu_and_reads_the_loss_every_log_every_steps():
    data = blob_images(n=96, size=8)  # 6 steps per epoch
    cpu = tiny_cnn(seed=0)
    fit(cpu, data, epochs=2, batch_size=16, seed=3, progress=False)
    with fake_device() as mode:
        dev = tiny_cnn(seed=0).to(DEV)
        mode.syncs = 0
        hist = fit(dev, data, epochs=2, batch_size=16, seed=3, progress=False, log_every=3)
        state = {k: v.cpu() for k, v in dev.state_dict().items()}
    for k, v in cpu.state_dict().items():
        torch.testing.assert_close(state[k], v, rtol=0, atol=0)
    assert len(hist.train_loss) == 2
    # per epoch: 2 log points (loss check) + the epoch's loss and accuracy for the history; + 1: the weights are
    # checked for NaN/inf once after the last step
    assert mode.syncs == 2 * (2 + 2) + 1, f"{mode.syncs} host syncs for 2 epochs of 6 steps"


# ------------------------------------------------------------------------------------------- KFAC-Laplace
@pytest.mark.parametrize("damping", ["exact", "ritter"])
@pytest.mark.parametrize("subset", ["all", "last_layer"])
def test_kfac_laplace_on_the_fake_device_equals_cpu(damping, subset):
    data = blob_images(n=32, size=8)
    batches = image_batches(data, batch_size=16)

    def run(model, device):
        la = KFACLaplace(model, prior_precision=1.0, n_data=32, subset=subset, damping=damping)
        la.fit([(x.to(device), y.to(device)) for x, y in batches], seed=1, progress=False)
        name = la.layer_names[-1]
        precision = la.posterior_precision(name).cpu()
        la.sample(model, generator=torch.Generator().manual_seed(2))
        sampled = model.head.weight.detach().cpu().clone()
        probs = la.predict(data, n_samples=2, seed=3).cpu()
        if subset != "last_layer":
            return precision, sampled, probs
        glm = [la.predict(data, predictive="glm").cpu(),
               la.predict(data, predictive="glm", link="mc", n_samples=2, seed=3).cpu()]
        return precision, sampled, probs, *glm

    expected = run(tiny_cnn(seed=0), "cpu")
    with fake_device():
        got = run(tiny_cnn(seed=0).to(DEV), DEV)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------- cSGLD
def test_csgld_optimizer_draws_its_noise_with_a_device_generator_on_the_device():
    def run(device):
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(4, 3).to(device))]
        opt = CyclicalSGLD(params, lr=0.1, n_data=10, generator=torch.Generator(device=device).manual_seed(5))
        opt.sampling = True
        params[0].grad = torch.ones(4, 3, device=device)
        with fake_device() if device == DEV else contextlib.nullcontext() as mode:
            for _ in range(3):
                opt.step()
        assert mode is None or mode.host_to_device == 0, f"{mode.host_to_device} copies to the device in 3 steps"
        return params[0].detach().cpu()

    expected = run("cpu")
    with fake_device():
        got = run(DEV)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_csgld_noise_is_drawn_on_the_device_and_equals_cpu():
    data = blob_images(n=32, size=8)

    def run(device):
        model = tiny_cnn(seed=0).to(device)
        loader = BatchLoader(data, 16, shuffle=True, augment=True, drop_last=True, seed=0)
        col, opt = run_csgld(model, loader, epochs=2, n_cycles=1, lr_0=0.05, beta=0.5, samples_per_cycle=1,
                           temperature=1.0, seed=4, progress=False)
        assert opt.generator.device.type == torch.device(device).type  # noise drawn where the parameters are
        return col.states[-1]

    expected = run("cpu")
    with fake_device():
        got = run(DEV)
    for k, v in expected.items():
        torch.testing.assert_close(got[k], v, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------- spawning
@pytest.fixture
def synthetic():
    """The data spec of 96 blob images (32x32) in place of CIFAR-10."""
    return {"name": "cifar10", "source": "synthetic", "n_train": 96, "n_val": 500, "n_test": 1000, "seed": 1}


def test_spawning_trains_on_the_selected_device_and_its_parent_is_the_standard_run(tmp_cache, synthetic,
                                                                                   monkeypatch):
    recipe = standard_recipe("smoke", 0, model_kw={"widths": [4, 8, 8, 8]}, epochs=2, batch_size=32,
                             data=synthetic)
    monkeypatch.setenv("LSDL_DEVICE", DEV)
    # a convolution on the CPU = training off the device; the child reads the parent back from the (CPU) cache
    with fake_device(forbid_host_ops={"convolution"}):
        parent_run = E.SpawnParentRecipe(recipe, (1,))
        parent = E.spawn_parent(parent_run)
        child = E.spawn_child(E.SpawnChildRecipe(parent_run, 1, child_seed=recipe.seed))
        standard, _ = lsdl_ens.recipes.train(recipe, progress=False)
        standard = {k: v.cpu() for k, v in standard.state_dict().items()}
        parent, child = ({k: v.cpu() for k, v in d.items()} for d in (parent, child))
    for name, value in standard.items():
        torch.testing.assert_close(parent[f"2.model.{name}"], value, rtol=0, atol=0)
        torch.testing.assert_close(child[name], value, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------- every family
@pytest.mark.parametrize("name", sorted(SMOKE_PATHS))
def test_smoke_path_on_the_fake_device_equals_cpu(name):
    expected = SMOKE_PATHS[name]("cpu")
    with fake_device():
        got = SMOKE_PATHS[name](DEV)
    assert set(got) == set(expected)
    for key, value in expected.items():
        tol = TOLERANCE.get(name, dict(rtol=0, atol=0))
        torch.testing.assert_close(got[key], value, **tol, msg=f"{name}: {key}")


# ------------------------------------------------------------------------------------------- cached entry points
@pytest.fixture
def synthetic_cifar():
    """The smoke profile on synthetic 32x32 blob images in place of CIFAR-10 (train 64, val 32, test 32), 2 epochs
    in batches of 32: every module that reads data gets them from the profile's recipes and splits."""
    from lsdl_ens.profiles import get_profile

    return get_profile("smoke", epochs=2, batch_size=32, n_train=64, n_val=32, n_test=32, data_source="synthetic")


def test_cached_entry_points_train_on_the_selected_device(tmp_cache, synthetic_cifar, monkeypatch):
    from lsdl_ens.experiments.weight_averaging import swa_recipe, train_swa
    from lsdl_ens.experiments.ensembles_csgld import csgld_recipe, train_csgld
    from lsdl_ens.experiments.ensembles_snapshots import fge_recipe, sse_recipe, train_fge, train_sse
    from lsdl_ens.experiments.basin_sampling import spro_recipe, swag_recipe, train_spro, train_swag
    from lsdl_ens.experiments.optimizers_tta import (METHODS, clip_recipe, optimizer_recipe, pretrained_clip,
                                                     train_optimizer)

    p = synthetic_cifar
    monkeypatch.setenv("LSDL_DEVICE", DEV)
    with fake_device(forbid_host_ops={"convolution"}):  # training or evaluating on the CPU raises
        train_swa(swa_recipe(p), progress=False)
        train_swag(swag_recipe(p, epochs=2, swa_start=1), progress=False)
        sse = train_sse(sse_recipe(p, budget=1), progress=False)
        train_fge(fge_recipe(p, budget=1), progress=False)
        train_csgld(csgld_recipe(p, n_cycles=1, beta=0.5, samples_per_cycle=1), progress=False)
        train_spro(spro_recipe(p, n_vertices=2, epochs=1, n_samples=1), progress=False)
        for method in METHODS:
            train_optimizer(optimizer_recipe(method, p, epochs=2, n_train=64, n_eval_train=32, batch_size=32, views=2,
                                             k=2, swa_start=1), progress=False)
        pretrained_clip(clip_recipe(p, widths=[8, 16], embed_dim=16, epochs=1, batch_size=32), progress=False)
        models = sse.models()  # from the cache (CPU tensors) onto the selected device
        assert all(q.device.type == DEV for m in models for q in m.parameters())


def test_landscape_experiments_evaluate_on_the_selected_device(tmp_cache, synthetic_cifar, monkeypatch):
    p = synthetic_cifar
    monkeypatch.setenv("LSDL_DEVICE", DEV)
    with fake_device(forbid_host_ops={"convolution"}):
        out = E.spawn_experiment(p, spawn_epochs=(0, 1), n_alphas=3)
        curve = E.curve_results(E.curve_recipe(p, epochs=1), n_points=3, profile=p)
        segment = E.segment_results(p, n_alphas=3)
        plane = E.plane_results(p, grid=2)
    assert len(out["test_barrier"]) == 2 and len(out["independent"]["error"]) == 3
    assert len(curve["error"]) == 3 and len(segment["error"]) == 3 and plane["loss"].shape == (2, 2)


def test_transfer_members_and_paths_on_the_selected_device(tmp_cache, monkeypatch):
    from lsdl_ens.profiles import get_profile
    from lsdl_ens.experiments.transfer import consecutive_paths, local_de_recipes, member_probs

    # synthetic blob images in place of CIFAR-10: 64 source, 40 target (+ 40 validation), 30 test images per side
    p = get_profile("smoke", n_source=64, n_target=40, n_test=30, data_source="synthetic")
    members = local_de_recipes(p, n_members=2, batch_size=32)
    monkeypatch.setenv("LSDL_DEVICE", DEV)
    with fake_device(forbid_host_ops={"convolution"}):
        probs = member_probs(members[0], p)
        paths = consecutive_paths(members, p)
    assert probs["test"].shape == (30, 5) and len(paths) == 1


def test_train_curve_reads_the_loss_back_once_per_epoch():
    from lsdl_ens.landscape import CurveModel, train_curve

    batches = image_batches(blob_images(n=64, size=8), batch_size=16, augment=True)  # 4 steps per epoch
    with fake_device() as mode:
        a, b = tiny_cnn(seed=0).to(DEV), tiny_cnn(seed=1).to(DEV)
        curve = CurveModel(a, a.state_dict(), b.state_dict(), kind="bezier", n_bends=1).to(DEV)
        mode.syncs = 0
        train_curve(curve, batches, epochs=2, lr=0.05, weight_decay=1e-4, progress=False)
    assert mode.syncs <= 2 * 2, f"{mode.syncs} host syncs in 2 epochs of 4 steps"
