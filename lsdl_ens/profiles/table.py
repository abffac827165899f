"""The values of the three run profiles (``smoke``, ``cpu``, ``gpu``): the course's only table of sizes.

Notes on the choices:

* ``cpu`` standard run: 20k training images for 12 epochs without augmentation, the cheapest setting of the budget
  study (``benchmarks/budget.py``, the book's "Choosing the budget") where a deep ensemble of two networks trained
  for 1B beats one network trained for 2B on accuracy and NLL, and 2B gains less than one point over 1B
  (two seeds: 70.3% at 1B, 70.0% at 2B, ensemble of two 72.9%; NLL 0.85 / 0.96 / 0.79). With crop+flip, 45k
  images reach 80.8-81.1% at 48 epochs, but the ensemble still loses to longer training at 24 epochs, and each run
  costs about ten times as much. The transfer recipes keep crop+flip.

* ``cpu`` and ``gpu`` train with bf16 autocast and channels_last memory format: on 2 CPU cores they train the cpu
  VGG 2.11x faster than fp32 with the same accuracy in two full runs (benchmarks/results/throughput-cpu-2026-12-01.md);
  ``smoke`` stays fp32, so CI checks the plain path.

* ``cpu`` cSGLD: 2 cycles of 6 epochs per B. With 4 cycles of 3 epochs and T = 1 (N = 10k) the 12 samples reached
  47.7-59.6% and their ensemble 57.5%, below one standard network (61.7%): cycles too short, posterior too hot.
* ``cpu`` KFAC grid up to 10^4 x wd N: on the cpu setting the validation NLL falls monotonically as tau grows
  (towards the MAP network), so the tuned value is the grid's upper edge with either grid.
* ``cpu`` SPRO costs 1B (base) + 2 vertices x 3 epochs x 2 points = 2B of forward/backward passes, the chapter's
  equal budget.
* ``cpu`` landscape: chapter 02 repeats its claims over ``claim_seeds`` = 3 pairs (6 standard networks, 3 Bezier
  curves and a polygonal chain, 3 spawning parents with their children, 6 P-T and 6 RI-T target networks): about
  29 standard runs of training (1,110 s for the whole chapter on two cores, after chapter 01's networks were
  cached); 1,000 evaluation images resolve errors to 0.1 point.
* ``cpu`` TTA: M = 5 rounds of L = 2 steps, WATT's CIFAR-10-C setting (the reference also runs 50 rounds): 80 steps
  per batch of 128 for WATT-P and WATT-S alike. Timed on one busy core with an untrained tiny CLIP of the cpu
  profile, one batch takes 4.4 s at M = 5 against 1.0 s at M = 1 (about a minute per mode over the 15 corruptions).
* ``cpu`` transfer: the profile's fine-tuning (6 epochs at lr 0.01) stops at 82% train accuracy on the 1,000
  target images, while the transfer-ensembles paper starts from a converged model 1, so that chapter fine-tunes for
  48 epochs at lr 0.03 (model 1 train / test accuracy: 6 epochs at 0.01 82.4% / 74.9%, 24 at 0.01 88.4% / 78.1%,
  24 at 0.05 94.5% / 80.0%, 48 at 0.03 97.6% / 80.5%). Its grid is 4 LRs x 3 cycle lengths instead of the
  reference's 5 x 4: 0.25, 1, 4 span the reference's range and 8x is added because with 4x as the largest the best
  StarSSE ensemble sat at the grid's edge; cycle lengths 0.25x-1x (12, 24, 48 epochs), since longer cycles of a
  48-epoch recipe do not fit the cpu budget.
"""

from __future__ import annotations

from .base import Profile
from .sections import (AveragingSizes, CLIPSizes, CSGLDSizes, CyclicSizes, KFACSizes, LandscapeSizes,
                       OptimizerPlaneSizes, OptimizerSizes, SPROSizes, SweepSizes, SWAGSizes, SWASizes, TransferSizes,
                       TTASizes)

__all__ = ["PROFILES", "BENCHMARK_CORRUPTIONS", "REFERENCE_TEMPERATURE"]

#: the 15 corruptions of the CIFAR-10-C benchmark
BENCHMARK_CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
                         "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform",
                         "pixelate", "jpeg_compression")
REFERENCE_TEMPERATURE = 1 / 50_000  # the `--temperature` default of ruqizhang/csgmcmc (a cold posterior)

_SMOKE = Profile(
    "smoke", n_train=1_000, n_val=500, n_test=1_000, model="vgg", batch_size=128, epochs=2, lr=0.05,
    weight_decay=5e-4, ensemble_size=2, curve_epochs=1, n_bn_batches=4, n_source=1_000, n_target=200,
    pretrain_epochs=2, finetune_epochs=1, finetune_lr=0.01, precision="fp32", channels_last=False, augment=True,
    claim_seeds=3, data_source="cifar10",
    landscape=LandscapeSizes(n_eval=500, n_train_eval=500, n_alphas=5, n_curve_points=5, spawn_epochs=(0, 1),
                             n_spawn_alphas=5, plane_grid=4, ri_epochs=2, n_similarity=100, simplex_epochs=1,
                             simplex_grid=2, domains=("contrast",), domain_severity=5),
    swa=SWASizes(swa_start=1, swa_lr=0.01, cyclic_lr=0.05),
    averaging=AveragingSizes(grid=3, rays=3, n_dist=3, n_eval=300, line=5, n_pairs=3, alphas=3,
                             ray_distance=24.0, learned_epochs=1),
    sweep=SweepSizes(lrs=(0.003, 0.03), n_seeds=2),
    cyclic=CyclicSizes(sse_cycles=2, sse_lr_factor=2.0, fge_cycle=0.25, fge_lr_1=0.2, fge_lr_2=0.01, every_epochs=1,
                       table_budgets=(1, 2)),
    csgld=CSGLDSizes(cycles=2, lr_factor=10.0, beta=0.7, samples_per_cycle=2, temperature=1.0,
                     warm_temperature=1.0),
    swag=SWAGSizes(epochs=4, swa_start=2, swa_lr=0.01, max_rank=20, n_samples=3, collections_per_epoch=1),
    kfac=KFACSizes(n_samples=3, tune_samples=2, grid=(0.1, 1.0, 10.0, 100.0)),
    spro=SPROSizes(n_vertices=3, epochs=1, n_samples=2, lr=0.01, lam=1e-6, n_points=3, grid=2),
    transfer=TransferSizes(lr_mults=(0.5, 4.0), epoch_mults=(1.0,), n_ood=40, n_alphas=3, plane_grid=3,
                           n_landscape=200, n_global=2),
    optim=OptimizerSizes(n_train=256, epochs=2),
    optim_plane=OptimizerPlaneSizes(grid=4, n_eval=200),
    clip=CLIPSizes(epochs=2),
    tta=TTASizes(n_images=64, batch_size=32, n_iters=1, n_rounds=1, tent_steps=2, strategy_steps=2,
                 corruptions=("gaussian_noise", "contrast", "brightness")),
)

_CPU = Profile(
    "cpu", n_train=20_000, n_val=2_000, n_test=5_000, model="vgg", batch_size=128, epochs=12, lr=0.05,
    weight_decay=5e-4, ensemble_size=5, curve_epochs=10, n_bn_batches=16, n_source=10_000, n_target=1_000,
    pretrain_epochs=10, finetune_epochs=6, finetune_lr=0.01, precision="bf16", channels_last=True, augment=False,
    claim_seeds=3, data_source="cifar10",
    landscape=LandscapeSizes(n_eval=1000, n_train_eval=1000, n_alphas=21, n_curve_points=21, spawn_epochs=(0, 2, 6),
                             n_spawn_alphas=9, plane_grid=7, ri_epochs=30, n_similarity=500, simplex_epochs=6,
                             simplex_grid=6, domains=("gaussian_noise", "contrast"), domain_severity=5),
    swa=SWASizes(swa_start=9, swa_lr=0.01, cyclic_lr=0.05),
    averaging=AveragingSizes(grid=7, rays=4, n_dist=13, n_eval=1000, line=9, n_pairs=12, alphas=6,
                             ray_distance=24.0, learned_epochs=5),
    sweep=SweepSizes(lrs=(0.001, 0.003, 0.01, 0.03, 0.1), n_seeds=3),
    cyclic=CyclicSizes(sse_cycles=4, sse_lr_factor=2.0, fge_cycle=0.05, fge_lr_1=0.2, fge_lr_2=0.01, every_epochs=3,
                       table_budgets=(1, 2, 3)),
    csgld=CSGLDSizes(cycles=2, lr_factor=10.0, beta=0.8, samples_per_cycle=3, temperature=REFERENCE_TEMPERATURE,
                     warm_temperature=1.0),
    swag=SWAGSizes(epochs=24, swa_start=12, swa_lr=0.01, max_rank=20, n_samples=12,
                   collections_per_epoch=2),
    kfac=KFACSizes(n_samples=10, tune_samples=4, grid=(1, 3, 10, 30, 100, 300, 1000, 3000, 10000)),
    spro=SPROSizes(n_vertices=3, epochs=3, n_samples=2, lr=0.01, lam=1e-6, n_points=10, grid=5),
    transfer=TransferSizes(lr_mults=(0.25, 1.0, 4.0, 8.0), epoch_mults=(0.25, 0.5, 1.0), n_ood=50, n_alphas=5,
                           plane_grid=5, n_landscape=500, n_global=5, finetune_epochs=48, finetune_lr=0.03),
    optim=OptimizerSizes(n_train=None, epochs=8),
    optim_plane=OptimizerPlaneSizes(grid=9, n_eval=1000),
    clip=CLIPSizes(epochs=8),
    tta=TTASizes(n_images=128, batch_size=128, n_iters=2, n_rounds=5, tent_steps=10, strategy_steps=4,
                 corruptions=BENCHMARK_CORRUPTIONS),
)

_GPU = Profile(
    "gpu", n_train=None, n_val=5_000, n_test=None, model="resnet20", batch_size=128, epochs=60, lr=0.1,
    weight_decay=5e-4, ensemble_size=5, curve_epochs=40, n_bn_batches=None, n_source=None, n_target=2_500,
    pretrain_epochs=40, finetune_epochs=20, finetune_lr=0.01, precision="bf16", channels_last=True, augment=True,
    claim_seeds=5, data_source="cifar10",
    landscape=LandscapeSizes(n_eval=10_000, n_train_eval=5000, n_alphas=31, n_curve_points=61,
                             spawn_epochs=(0, 1, 2, 5, 10, 20, 40), n_spawn_alphas=31, plane_grid=21, ri_epochs=100,
                             n_similarity=1000, simplex_epochs=20, simplex_grid=10,
                             domains=("gaussian_noise", "contrast", "pixelate"), domain_severity=5),
    swa=SWASizes(swa_start=45, swa_lr=0.02, cyclic_lr=0.05),
    averaging=AveragingSizes(grid=21, rays=3, n_dist=11, n_eval=10000, line=21, n_pairs=60, alphas=11,
                             ray_distance=24.0, learned_epochs=5),
    sweep=SweepSizes(lrs=(0.001, 0.003, 0.01, 0.03, 0.1), n_seeds=4),
    cyclic=CyclicSizes(sse_cycles=5, sse_lr_factor=2.0, fge_cycle=0.05, fge_lr_1=0.5, fge_lr_2=0.005,
                       every_epochs=12, table_budgets=(1, 2, 3)),
    csgld=CSGLDSizes(cycles=4, lr_factor=5.0, beta=0.9, samples_per_cycle=3, temperature=REFERENCE_TEMPERATURE,
                     warm_temperature=1.0),
    swag=SWAGSizes(epochs=120, swa_start=60, swa_lr=0.01, max_rank=20, n_samples=30,
                   collections_per_epoch=1),
    kfac=KFACSizes(n_samples=30, tune_samples=10,
                   grid=(0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000)),
    spro=SPROSizes(n_vertices=4, epochs=10, n_samples=5, lr=0.01, lam=1e-6, n_points=20, grid=8),
    transfer=TransferSizes(lr_mults=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0), epoch_mults=(0.5, 1.0, 2.0, 4.0), n_ood=1000,
                           n_alphas=11, plane_grid=15, n_landscape=5000, n_global=5),
    optim=OptimizerSizes(n_train=None, epochs=30),
    optim_plane=OptimizerPlaneSizes(grid=15, n_eval=2000),
    clip=CLIPSizes(epochs=40),
    tta=TTASizes(n_images=1000, batch_size=128, n_iters=2, n_rounds=5, tent_steps=10, strategy_steps=10,
                 corruptions=BENCHMARK_CORRUPTIONS),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (_SMOKE, _CPU, _GPU)}
