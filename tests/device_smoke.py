"""One tiny smoke path per method family, runnable on any device: ``SMOKE_PATHS[name](device) -> results``.

The model lives on `device`; data comes as a CPU `ImageSet` (the library moves it) or as batches on `device`.
Results are returned on the CPU (tensors and floats) so runs on two devices can be compared. Used by
tests/test_devices.py (the fake device of `fake_device.py`, every CI run) and tests/test_cuda.py (a real GPU).
"""

from __future__ import annotations

import torch

from _tiny import blob_images, tiny_cnn
from lsdl_ens.data import BatchLoader


def _setup(device, n=32, seed=0):
    data = blob_images(n=n, size=8, seed=seed)
    batches = [(x.to(device), y.to(device)) for x, y in BatchLoader(data, 16)]
    aug = [(x.to(device), y.to(device)) for x, y in BatchLoader(data, 16, shuffle=True, augment=True, seed=1)]
    return data, batches, aug


def _cpu(out: dict) -> dict:
    return {k: (v.detach().cpu() if torch.is_tensor(v) else torch.as_tensor(v, dtype=torch.float64).cpu())
            for k, v in out.items()}


def _trained(device, seed=0, epochs=1):
    from lsdl_ens.train import fit

    model = tiny_cnn(seed=seed).to(device)
    fit(model, blob_images(n=32, size=8), epochs=epochs, batch_size=16, seed=seed, progress=False)
    return model


def fit_and_predict(device):
    from lsdl_ens.train import evaluate, predict_probs

    data, _, _ = _setup(device)
    model = _trained(device)
    metrics = evaluate(model, data)
    return _cpu({"probs": predict_probs(model, data), "loss": metrics["loss"]})


def swa(device):
    from lsdl_ens.averaging import SWACollector, random_ray_width, sgd_swa_line, swa_model
    from lsdl_ens.train import fit, predict_probs

    data, batches, aug = _setup(device)
    model = tiny_cnn(seed=0).to(device)
    collector = SWACollector(swa_start=1)
    fit(model, data, epochs=3, batch_size=16, callbacks=[collector], progress=False)
    averaged = swa_model(model, collector.state, aug)
    width = random_ray_width(tiny_cnn().to(device), averaged.state_dict(), batches, distances=[0.0, 1.0],
                             n_directions=2, bn_data=aug, progress=False)
    line = sgd_swa_line(tiny_cnn().to(device), averaged.state_dict(), model.state_dict(), batches, ts=[0.0, 1.0],
                        bn_data=aug, progress=False)
    return _cpu({"probs": predict_probs(averaged, data), "width": torch.as_tensor(width["loss"]),
                 "line": torch.as_tensor(line["loss"])})


def swag(device):
    from lsdl_ens.ensembles import SWAG
    from lsdl_ens.ensembles.swag import SWAGCallback, bma_predict
    from lsdl_ens.train import fit

    data, _, aug = _setup(device)
    model = tiny_cnn(seed=0).to(device)
    swag = SWAG(model, max_rank=3)
    fit(model, data, epochs=3, batch_size=16, callbacks=[SWAGCallback(swag, swa_start=1)], progress=False)
    return _cpu({"probs": bma_predict(swag, model, data, aug, n_samples=2)})


def kfac_laplace(device):
    from lsdl_ens.ensembles import KFACLaplace

    data, batches, _ = _setup(device)
    model = _trained(device)
    la = KFACLaplace(model, prior_precision=1.0, n_data=32).fit(batches, progress=False)
    return _cpu({"probs": la.predict(data, n_samples=2)})


def snapshots_and_csgld(device):
    from lsdl_ens.ensembles.csgld import run_csgld
    from lsdl_ens.ensembles.snapshots import run_sse
    from lsdl_ens.train import predict_probs

    data, _, _ = _setup(device)
    sse = run_sse(tiny_cnn(seed=0).to(device), data, epochs=2, n_cycles=2, lr_max=0.1, batch_size=16, progress=False)
    loader = BatchLoader(data, 16, shuffle=True, augment=True, drop_last=True, seed=0)
    csgld, _ = run_csgld(tiny_cnn(seed=0).to(device), loader, epochs=2, n_cycles=1, lr_0=0.05, beta=0.5,
                         samples_per_cycle=1, seed=2, progress=False)
    model = tiny_cnn(seed=0).to(device)
    out = {}
    for name, col in (("sse", sse), ("csgld", csgld)):
        model.load_state_dict(col.states[-1])
        out[name] = predict_probs(model, data)
    return _cpu(out)


def landscape(device):
    from lsdl_ens.landscape import (CurveModel, evaluate_curve, linear_path, plane_basis, plane_grid,
                                    stage_similarity, train_curve)

    data, batches, aug = _setup(device)
    a, b, c = (_trained(device, seed=s) for s in (0, 1, 2))
    path = linear_path(tiny_cnn().to(device), a.state_dict(), b.state_dict(), batches, bn_data=aug,
                       alphas=[0.0, 0.5, 1.0])
    curve = CurveModel(a, a.state_dict(), b.state_dict(), kind="bezier", n_bends=1).to(device)
    train_curve(curve, aug, epochs=1, lr=0.05, weight_decay=1e-4, progress=False)
    on_curve = evaluate_curve(curve, tiny_cnn().to(device), batches, bn_data=aug, ts=[0.0, 0.5], progress=False)
    grid = plane_grid(tiny_cnn().to(device), plane_basis(a.state_dict(), b.state_dict(), c.state_dict()), batches,
                      bn_data=aug, grid=2, progress=False)
    similarity = stage_similarity(a, b, batches)
    return _cpu({"path": torch.as_tensor(path["loss"]), "curve": torch.as_tensor(on_curve["loss"]),
                 "plane": torch.as_tensor(grid["loss"]),
                 "cka": torch.as_tensor([float(v) for v in similarity["cka"]])})


def simplex(device):
    from lsdl_ens.simplex import SimplexModel, simplex_predict, train_vertex

    data, _, aug = _setup(device)
    simplex = SimplexModel(tiny_cnn(seed=0)).to(device)
    simplex.add_vertex()
    loader = BatchLoader(data, 16, shuffle=True, augment=True, drop_last=True)
    train_vertex(simplex, loader, epochs=1, lr=0.05, n_samples=2, seed=0, progress=False)
    return _cpu({"probs": simplex_predict(simplex, data, aug, n_points=2), "volume": simplex.volume()})


def soups(device):
    from lsdl_ens.soups import greedy_soup, learned_soup, state_evaluator, uniform_soup

    data, batches, aug = _setup(device)
    states = [_trained(device, seed=s).state_dict() for s in (0, 1)]
    soup, weights = learned_soup(tiny_cnn().to(device), states, data, epochs=1, batch_size=16, progress=False)
    evaluate = state_evaluator(tiny_cnn().to(device), batches, bn_data=aug)
    _, kept = greedy_soup(states, evaluate, progress=False)
    return _cpu({"weights": weights, "uniform": evaluate(uniform_soup(states)), "kept": torch.tensor(kept)})


def optimizers(device):
    from lsdl_ens.optim import Lookahead, Lookaround, multiview_step
    from lsdl_ens.train import fit

    data, _, _ = _setup(device)
    model = tiny_cnn(seed=0).to(device)
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), k=2)
    fit(model, data, epochs=1, batch_size=16, optimizer=opt, lr_schedule=0.05, progress=False)
    opt.swap_to_slow()
    around = tiny_cnn(seed=0).to(device)
    opt2 = Lookaround(around.parameters(), lr=0.05, n_heads=2, k=2)
    loader = BatchLoader(data, 16, shuffle=True, augment=True, views=2, drop_last=True)
    fit(around, loader, epochs=1, optimizer=opt2, lr_schedule=0.05, train_step=multiview_step, progress=False)
    opt2.swap_to_average()
    return _cpu({"lookahead": model.head.weight, "lookaround": around.head.weight})


def tta(device):
    from lsdl_ens.data import CIFAR10_CLASSES
    from lsdl_ens.tta import CAPTION_TEMPLATES, TENT, WATT, SimpleTokenizer, TinyCLIP

    torch.manual_seed(0)
    tok = SimpleTokenizer.from_texts([t.format(c) for t in CAPTION_TEMPLATES for c in CIFAR10_CLASSES])
    model = TinyCLIP(tok, widths=(8, 16), embed_dim=16, text_width=16, text_heads=2).to(device)
    images = (torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))).to(device)
    watt = WATT(model, CIFAR10_CLASSES, n_iters=1, n_rounds=1)
    zero_shot = watt.logits(images)
    labels = watt.adapt_predict(images)
    tent = TENT(model, CIFAR10_CLASSES, n_steps=1)
    tent.adapt(images)
    # adapted logits are not compared: Adam's first step is ~lr * sign(grad), so last-bit differences of the
    # attention kernel (another kernel is chosen for a tensor subclass) flip the sign of near-zero gradients
    return _cpu({"zero_shot": zero_shot, "watt_labels": labels, "tent_finite": torch.isfinite(tent.logits(images))})


# tolerances for comparing two devices: exact, except where the kernels differ (TinyCLIP's attention)
TOLERANCE = {"tta": dict(rtol=1e-5, atol=1e-4)}

SMOKE_PATHS = {f.__name__: f for f in (fit_and_predict, swa, swag, kfac_laplace, snapshots_and_csgld, landscape,
                                          simplex, soups, optimizers, tta)}
