"""Tests for lsdl_ens.state: interpolation, averaging, flat vectors, distances, and every argument check."""

import math

import pytest
import torch

from _tiny import one_thread, tiny_cnn  # noqa: F401  (one_thread is an autouse fixture)
from lsdl_ens import state as S


def _two_states():
    a, b = tiny_cnn(seed=0).state_dict(), tiny_cnn(seed=1).state_dict()
    a = {k: v.clone() for k, v in a.items()}
    b = {k: v.clone() for k, v in b.items()}
    for k in a:  # distinct, non-trivial BN buffers and counters
        if k.endswith("num_batches_tracked"):
            a[k].fill_(7)
            b[k].fill_(99)
        elif k.endswith("running_var"):
            b[k].fill_(3.0)
    return a, b


def test_interpolate_endpoints_and_midpoint():
    a, b = _two_states()
    at0, at1, mid = S.interpolate(a, b, 0.0), S.interpolate(a, b, 1.0), S.interpolate(a, b, 0.25)
    for k in a:
        assert torch.equal(at0[k], a[k])
        if a[k].is_floating_point():
            assert torch.equal(at1[k], b[k])
            torch.testing.assert_close(mid[k], 0.75 * a[k] + 0.25 * b[k], rtol=0, atol=1e-6)


def test_integer_buffers_keep_dtype_and_come_from_the_first_state():
    a, b = _two_states()
    keys = [k for k in a if k.endswith("num_batches_tracked")]
    assert keys
    outputs = [(S.interpolate(a, b, 0.5), a), (S.interpolate(a, b, 1.0), a), (S.average([a, b]), a),
               (S.average([b, a], [0.3, 0.7]), b)]
    for out, first in outputs:
        for k in keys:
            assert out[k].dtype == torch.long
            assert torch.equal(out[k], first[k])


def test_interpolate_does_not_alias_inputs():
    a, b = _two_states()
    out = S.interpolate(a, b, 0.0)
    key = next(iter(a))
    out[key].add_(1.0)
    assert not torch.equal(out[key], a[key])


def test_average_of_identical_copies_is_the_copy():
    a, _ = _two_states()
    out = S.average([a, a, a])
    for k in a:
        assert out[k].dtype == a[k].dtype
        assert torch.equal(out[k], a[k])


def test_weighted_average_matches_hand_formula():
    a, b = _two_states()
    c = {k: v * 2 + 1 if v.is_floating_point() else v for k, v in a.items()}
    out = S.average([a, b, c], weights=[0.2, 0.5, 0.3])
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(out[k], 0.2 * a[k] + 0.5 * b[k] + 0.3 * c[k], rtol=1e-6, atol=1e-6)
    uniform = S.average([a, b])
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(uniform[k], S.interpolate(a, b, 0.5)[k], rtol=1e-6, atol=1e-6)


def test_mismatch_errors_name_the_key_and_the_state():
    a, b = _two_states()
    key = "head.bias"
    missing = {k: v for k, v in b.items() if k != key}
    with pytest.raises(ValueError, match=r"'head\.bias'.*state_b lacks it"):
        S.interpolate(a, missing, 0.5)
    with pytest.raises(ValueError, match=r"'head\.bias'.*state_a lacks it"):
        S.interpolate(missing, a, 0.5)
    wrong_shape = dict(b, **{key: torch.zeros(3)})
    with pytest.raises(ValueError, match=r"'head\.bias' has shape"):
        S.interpolate(a, wrong_shape, 0.5)
    with pytest.raises(ValueError, match=r"'head\.bias' has shape .* states\[1\]"):
        S.average([a, wrong_shape])
    wrong_dtype = dict(b, **{key: b[key].double()})
    with pytest.raises(ValueError, match=r"'head\.bias' has dtype"):
        S.average([a, wrong_dtype])
    with pytest.raises(ValueError, match=r"'head\.bias'.*states\[2\] lacks it"):
        S.average([a, b, missing])


def test_average_argument_checks():
    a, b = _two_states()
    with pytest.raises(ValueError, match=r"states must be a non-empty list of state dicts, got \[\]"):
        S.average([])
    with pytest.raises(ValueError, match="weights must sum to 1"):
        S.average([a, b], weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="weights must be finite and non-negative"):
        S.average([a, b], weights=[1.5, -0.5])
    with pytest.raises(ValueError, match="weights has 3 entries"):
        S.average([a, b], weights=[0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        S.interpolate(a, b, math.nan)


def test_add_subtract_scale():
    a, b = _two_states()
    diff = S.subtract(b, a)
    back = S.add(a, diff)
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(back[k], b[k])
            torch.testing.assert_close(S.scale(diff, 0.5)[k], 0.5 * (b[k] - a[k]))
        else:
            assert torch.equal(diff[k], b[k]) and torch.equal(back[k], a[k])


def test_flatten_unflatten_round_trip_and_parameter_keys():
    model = tiny_cnn(seed=3)
    state = model.state_dict()
    flat = S.flatten(state)
    assert flat.dim() == 1 and flat.numel() == sum(v.numel() for v in state.values() if v.is_floating_point())
    back = S.unflatten(flat * 1.0, state)
    assert set(back) == set(state)
    for k in state:
        assert back[k].dtype == state[k].dtype and torch.equal(back[k], state[k])

    keys = S.parameter_keys(model)
    assert keys and not any("running" in k or "num_batches" in k for k in keys)
    params = S.flatten(state, keys)
    torch.testing.assert_close(params, torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    moved = S.unflatten(params + 1.0, state, keys)
    for k in state:
        expected = state[k] + 1.0 if k in keys else state[k]
        torch.testing.assert_close(moved[k], expected)
    with pytest.raises(ValueError, match=f"flat must be 1-D with {params.numel()} elements"):
        S.unflatten(params[:-1], state, keys)
    with pytest.raises(ValueError, match="key 'nope' of keys is missing from state"):
        S.flatten(state, ["nope"])


def test_distance_and_cosine_match_torch():
    a, b = _two_states()
    fa, fb = S.flatten(a), S.flatten(b)
    assert S.distance(a, b) == pytest.approx(torch.dist(fa.double(), fb.double()).item(), rel=1e-9)
    assert S.distance(a, a) == 0.0
    expected = torch.nn.functional.cosine_similarity(fa.double(), fb.double(), dim=0).item()
    assert S.cosine(a, b) == pytest.approx(expected, rel=1e-9)
    assert S.cosine(a, S.scale(a, 3.0)) == pytest.approx(1.0, abs=1e-6)
    keys = ["head.weight", "head.bias"]
    sub = torch.cat([(a[k].double() - b[k].double()).reshape(-1) for k in keys]).norm().item()
    assert S.distance(a, b, keys) == pytest.approx(sub, rel=1e-9)
    with pytest.raises(ValueError, match="cosine is undefined for a zero vector"):
        S.cosine(a, S.scale(a, 0.0))
