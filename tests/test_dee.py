"""Tests for lsdl_ens.ensembles.dee on hand-made curves."""

import pytest

from lsdl_ens.ensembles import dee

ENSEMBLE = {1: 1.0, 2: 0.8, 3: 0.7, 4: 0.65}


def test_dee_interpolates_between_integer_sizes():
    # 0.75 lies halfway between DE(2) = 0.8 and DE(3) = 0.7
    assert dee({5: 0.75}, ENSEMBLE)[5] == pytest.approx(2 + (0.75 - 0.8) / (0.7 - 0.8))
    assert dee({1: 0.9}, ENSEMBLE)[1] == pytest.approx(1 + (0.9 - 1.0) / (0.8 - 1.0))


def test_dee_is_one_when_a_single_network_is_already_as_good():
    assert dee({1: 1.2, 2: 1.0}, ENSEMBLE) == {1: 1.0, 2: 1.0}


def test_dee_is_capped_at_the_largest_ensemble_size():
    assert dee({10: 0.5}, ENSEMBLE) == {10: 4.0}


def test_dee_hits_integer_sizes_exactly_and_is_monotone_in_the_method_value():
    values = {1: 0.8, 2: 0.7, 3: 0.65}
    assert dee(values, ENSEMBLE) == {1: pytest.approx(2.0), 2: pytest.approx(3.0), 3: pytest.approx(4.0)}
    sweep = [dee({1: v}, ENSEMBLE)[1] for v in (1.1, 0.95, 0.85, 0.72, 0.66, 0.6)]
    assert sweep == sorted(sweep)


def test_dee_uses_the_first_crossing_of_a_non_monotone_curve():
    bumpy = {1: 1.0, 2: 0.7, 3: 0.9, 4: 0.6}
    assert dee({1: 0.8}, bumpy)[1] == pytest.approx(1 + (0.8 - 1.0) / (0.7 - 1.0))


def test_dee_flips_the_comparison_for_higher_is_better_metrics():
    accuracy_curve = {1: 0.90, 2: 0.92, 4: 0.93}  # sizes need not be consecutive
    result = dee({1: 0.925, 2: 0.95, 3: 0.85}, accuracy_curve, higher_is_better=True)
    assert result[1] == pytest.approx(2 + 2 * (0.925 - 0.92) / (0.93 - 0.92))
    assert result[2] == 4.0 and result[3] == 1.0


@pytest.mark.parametrize("method, ensemble, exception, message", [
    ({}, ENSEMBLE, ValueError, "method_nll must be a non-empty dict"),
    ({1: 0.5}, {}, ValueError, "ensemble_nll must be a non-empty dict"),
    ({0: 0.5}, ENSEMBLE, ValueError, "each key of method_nll .* must be an integer >= 1, got 0"),
    ({1: 0.5}, {1: 1.0, -2: 0.8}, ValueError, "each key of ensemble_nll .* must be an integer >= 1, got -2"),
    ({1.5: 0.5}, ENSEMBLE, TypeError, "each key of method_nll .* must be an integer >= 1, got 1.5"),
    ({True: 0.5}, ENSEMBLE, TypeError, "each key of method_nll .* must be an integer >= 1, got True"),
    ({1: "low"}, ENSEMBLE, TypeError, r"method_nll\[1\] must be a finite number, got 'low'"),
    ({1: 0.5}, {1: float("nan")}, ValueError, r"ensemble_nll\[1\] must be a finite number, got nan"),
    ({1: 0.5}, {2: 0.8, 3: 0.7}, ValueError, "ensemble_nll must contain size 1"),
    ([0.5], ENSEMBLE, TypeError, "method_nll must be a non-empty dict"),
])
def test_dee_argument_checks(method, ensemble, exception, message):
    with pytest.raises(exception, match=message):
        dee(method, ensemble)
