"""The bad-input suite as a whole, and the behaviours around it: at least 150 distinct bad calls across the
``test_bad_inputs_*.py`` files, the CLI's one-line error, messages showing value and fix, good inputs passing the
checks, and deliberate behaviours that are accepted on purpose (documented in the docstrings named below).
"""

from __future__ import annotations

import pytest
import torch
from _tiny import one_thread  # noqa: F401  (autouse: one intra-op thread)
from bad_inputs_common import INF, mlp, sd, cnn, fit_tiny

from lsdl_ens import checks, schedules, state
from lsdl_ens.cli import main as cli_main
from lsdl_ens.models import build_model
from lsdl_ens.profiles import get_profile
from lsdl_ens.tta import watt_loss


def test_at_least_150_distinct_cases():
    import test_bad_inputs_core
    import test_bad_inputs_families
    import test_bad_inputs_recipes

    cases = test_bad_inputs_core.CASES + test_bad_inputs_families.CASES + test_bad_inputs_recipes.CASES
    ids = [c.id for c in cases]
    assert len(cases) >= 150
    assert len(set(ids)) == len(ids), "two bad-input cases share an id"


def test_cli_unknown_profile_is_one_line_and_exit_code_2(monkeypatch, capsys):
    monkeypatch.setenv("LSDL_PROFILE", "bogus")
    assert cli_main(["figures"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bogus" in err and "smoke, cpu, gpu" in err and "Traceback" not in err


def test_messages_show_the_value_and_the_fix():
    with pytest.raises(ValueError) as info:
        schedules.sse_lr(0, 100, 5, -0.05)
    assert "lr_max must be a finite number >= 0, got -0.05; pass a positive learning rate" in str(info.value)
    with pytest.raises(TypeError) as info:
        state.interpolate(mlp(), mlp(1), 0.5)
    assert "state_a.state_dict()" in str(info.value)


def test_good_inputs_pass_the_checks():
    import numpy as np

    assert checks.positive_int("n", np.int64(3)) == 3 and checks.positive_int("n", 4.0) == 4
    assert checks.nonneg_int("n", torch.tensor(0)) == 0
    assert checks.positive_float("lr", 1) == 1.0 and checks.probability("p", torch.tensor(0.5)) == 0.5
    assert checks.number("x", INF, allow_inf=True) == INF
    assert checks.non_empty("xs", (1, 2)) == [1, 2] and checks.callable_("f", len) is len
    assert checks.labels_in_range("y", [0, 2], 3).dtype == torch.long
    assert checks.device_of("m", mlp()) == torch.device("cpu") and checks.num_classes_of(cnn(4)) == 4
    checks.same_keys([sd(), sd(1)], ["a", "b"])
    assert get_profile("cpu", n_train=None, epochs=3.0).epochs == 3
    assert schedules.make_schedule("cosine", epochs=2, lr=0.1) is not None


# Deliberate behaviours: accepted on purpose, documented in the docstrings named here.
DOCUMENTED = [
    pytest.param(lambda: fit_tiny(lr_schedule=0.0).lr == [0.0], id="fit-lr-0-is-a-frozen-run"),  # fit
    pytest.param(lambda: schedules.make_schedule("constant", epochs=3, lr=0.0)(None) == 0.0,
                 id="make_schedule-lr-0"),  # make_schedule
    pytest.param(lambda: build_model("mlp", hidden=(4.0,)).hidden == (4,), id="integral-float-is-an-int"),  # checks
    pytest.param(lambda: torch.equal(state.interpolate(sd(), sd(1), 2.0)["head.bias"],
                                     2 * sd(1)["head.bias"] - sd()["head.bias"]),
                 id="interpolate-alpha-outside-0-1-extrapolates"),  # interpolate
    pytest.param(lambda: float(watt_loss([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], 100.0)) >= 0,
                 id="watt_loss-accepts-nested-lists"),  # watt_loss
    pytest.param(lambda: fit_tiny(model=cnn(num_classes=3), train_step=lambda m, b, o, s: (torch.tensor(0.0),
                                                                                           torch.tensor(0), 8)).epoch
                 == [1], id="fit-custom-step-skips-label-check"),  # fit
    pytest.param(lambda: schedules.fge_lr(3, 4.5, 0.1, 0.01) > 0, id="fge-fractional-cycle"),  # fge_lr
]


@pytest.mark.parametrize("call", DOCUMENTED)
def test_documented_behaviours(call):
    assert call()


def test_fit_takes_a_schedule_returning_numpy_or_tensor_values():
    import numpy as np

    history = fit_tiny(lr_schedule=lambda s: np.float32(0.01))
    assert history.lr == [pytest.approx(0.01)]
    history = fit_tiny(lr_schedule=lambda s: torch.tensor(0.02))
    assert history.lr == [pytest.approx(0.02)]
