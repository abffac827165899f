"""Schedules against their closed forms (API.md) at many points."""

import math

import pytest

from lsdl_ens.schedules import cosine_lr, fge_lr, make_schedule, sse_lr, swa_lr
from lsdl_ens.train import TrainStep


def test_sse_matches_closed_form_and_restarts():
    total, cycles, lr_max = 1000, 4, 0.2
    c = total / cycles
    for it in range(0, total, 7):
        expected = lr_max / 2 * (1 + math.cos(math.pi * (it % c) / c))
        assert sse_lr(it, total, cycles, lr_max) == pytest.approx(expected, abs=1e-12)
    assert sse_lr(250, total, cycles, lr_max) == pytest.approx(lr_max)  # restart
    assert sse_lr(249, total, cycles, lr_max) < 1e-4                    # end of a cycle
    with pytest.raises(ValueError, match="n_cycles"):
        sse_lr(0, 10, 0, 0.1)


def test_fge_triangle():
    c, l1, l2 = 100, 0.05, 0.0005
    assert fge_lr(0, c, l1, l2) == pytest.approx(l1)
    assert fge_lr(50, c, l1, l2) == pytest.approx(l2)
    assert fge_lr(25, c, l1, l2) == pytest.approx((l1 + l2) / 2)
    assert fge_lr(75, c, l1, l2) == pytest.approx((l1 + l2) / 2)
    for it in range(0, 400, 3):
        t = (it % c) / c
        ref = (1 - 2 * t) * l1 + 2 * t * l2 if t < 0.5 else (2 * t - 1) * l1 + (2 - 2 * t) * l2
        assert fge_lr(it, c, l1, l2) == pytest.approx(ref, abs=1e-12)


def test_swa_schedule_pieces():
    lr0, lr_swa, start = 0.05, 0.01, 10
    assert swa_lr(0, lr0, lr_swa, start) == lr0 and swa_lr(5, lr0, lr_swa, start) == lr0
    assert swa_lr(7, lr0, lr_swa, start) == pytest.approx(lr0 * (1 - (1 - 0.2) * (0.7 - 0.5) / 0.4))
    assert swa_lr(9, lr0, lr_swa, start) == pytest.approx(lr_swa)
    assert swa_lr(15, lr0, lr_swa, start) == pytest.approx(lr_swa)


def test_cosine_and_named_schedules():
    assert cosine_lr(0, 10, 1.0) == 1.0 and cosine_lr(10, 10, 1.0) == pytest.approx(0.0)
    step = TrainStep(iteration=30, epoch=3, batch=0, iterations_per_epoch=10, epochs=10)
    assert make_schedule("cosine", epochs=10, lr=1.0)(step) == pytest.approx(cosine_lr(3, 10, 1.0))
    assert make_schedule("sse", epochs=10, lr=1.0, n_cycles=2)(step) == pytest.approx(sse_lr(30, 100, 2, 1.0))
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("warp", epochs=1, lr=1.0)


def test_sse_with_fractional_cycles_and_fge_over_many_cycles():
    total, cycles, lr_max = 1003, 7, 0.1
    c = total / cycles
    for it in range(total):
        pos = it - math.floor(it / c) * c
        assert sse_lr(it, total, cycles, lr_max) == pytest.approx(lr_max / 2 * (1 + math.cos(math.pi * pos / c)),
                                                                  abs=1e-12)
    starts = [math.ceil(j * c) for j in range(cycles)]
    assert all(sse_lr(s, total, cycles, lr_max) > 0.99 * lr_max for s in starts)
    c, l1, l2 = 46, 0.01, 0.0005
    lrs = [fge_lr(it, c, l1, l2) for it in range(10 * c)]
    assert min(lrs) == pytest.approx(l2) and max(lrs) == pytest.approx(l1)
    assert [i for i, v in enumerate(lrs) if v == pytest.approx(l2)] == list(range(c // 2, 10 * c, c))
    step = TrainStep(iteration=130, epoch=2, batch=30, iterations_per_epoch=50, epochs=10)
    assert make_schedule("fge", epochs=10, lr=l1, cycle_epochs=2, lr_2=l2)(step) == pytest.approx(
        fge_lr(130, 100, l1, l2))
    with pytest.raises(ValueError, match="cycle_iterations"):
        fge_lr(0, 1, l1, l2)


def test_cosine_schedule_of_zero_epochs_names_the_fix():
    with pytest.raises(ValueError, match="schedule='constant'"):
        cosine_lr(0.0, 0, 0.1)
