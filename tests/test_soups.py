"""Tests for lsdl_ens.soups: uniform soup formula, mismatch errors naming the key, greedy soup against a brute-force
re-implementation (both tie rules), greedy ensemble, learned soup (mixing, gradient step, optimisation)."""

import copy

import pytest
import torch
import torch.nn.functional as F

from _tiny import blob_images, image_batches, one_thread, rings, tiny_cnn, tiny_mlp, train_mlp  # noqa: F401
from lsdl_ens.bn import update_bn
from lsdl_ens.soups import (greedy_ensemble, greedy_soup, learned_soup, learned_soup_step, mix_states,
                            soup_logits, state_evaluator, uniform_soup)
from lsdl_ens.train import evaluate


def _scalar_states(values):
    return [{"w": torch.tensor([float(v)]), "n": torch.tensor(7)} for v in values]


def test_uniform_soup_is_the_mean_and_keeps_int_entries():
    states = [tiny_cnn(seed=s).state_dict() for s in range(3)]
    soup = uniform_soup(states)
    for key, value in soup.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, sum(s[key] for s in states) / 3)
        else:
            assert value.dtype == states[0][key].dtype and torch.equal(value, states[0][key])
    same = uniform_soup([states[0]] * 4)
    for key in same:
        torch.testing.assert_close(same[key], states[0][key], atol=1e-7, rtol=0)


def test_soups_refuse_mismatched_states_naming_the_key():
    a, b = tiny_cnn(seed=0).state_dict(), tiny_cnn(seed=1).state_dict()
    key = next(iter(b))
    del b[key]
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        uniform_soup([a, b])
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        greedy_soup([a, b], lambda s: 0.0)
    c = tiny_cnn(seed=1).state_dict()
    c["head.weight"] = torch.zeros(3, 3)
    with pytest.raises(ValueError, match=r"head\.weight"):
        uniform_soup([a, c])
    with pytest.raises(ValueError, match="empty"):
        uniform_soup([])


def _brute_greedy(values, score, accept):
    order = sorted(range(len(values)), key=lambda i: (-score(values[i]), i))
    chosen, best = [order[0]], score(values[order[0]])
    for i in order[1:]:
        s = score(sum(values[j] for j in chosen + [i]) / (len(chosen) + 1))
        if s > best or (accept == "geq" and s == best):
            chosen, best = chosen + [i], s
    return chosen


@pytest.mark.parametrize("accept", ["geq", "gt"])
def test_greedy_soup_matches_brute_force(accept):
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        values = (torch.randn(6, generator=g) * 2).tolist()
        target = float(torch.randn(1, generator=g))

        def score(v, target=target):  # rounded so ties happen, like accuracies on small validation sets
            return round(-abs(v - target), 1)

        soup, chosen = greedy_soup(_scalar_states(values), lambda s: score(s["w"].item()), accept=accept,
                                   progress=False)
        assert chosen == _brute_greedy(values, score, accept)
        assert soup["w"].item() == pytest.approx(sum(values[i] for i in chosen) / len(chosen), abs=1e-6)
        assert score(soup["w"].item()) >= max(score(v) for v in values)  # never below the best ingredient
        assert soup["n"].dtype == torch.int64


def test_greedy_soup_tie_rule():
    # ingredient 1 alone scores like ingredient 0 and so does their soup: accepted with geq, not with gt
    states = _scalar_states([1.0, 3.0])
    evaluate = lambda s: 1.0  # noqa: E731
    assert greedy_soup(states, evaluate, accept="geq", progress=False)[1] == [0, 1]
    assert greedy_soup(states, evaluate, accept="gt", progress=False)[1] == [0]
    # given order starts from the first state even if it is worse
    _, chosen = greedy_soup(_scalar_states([0.0, 5.0]), lambda s: s["w"].item(), order="given", progress=False)
    assert chosen == [0, 1]
    _, chosen = greedy_soup(_scalar_states([0.0, 5.0]), lambda s: s["w"].item(), progress=False)
    assert chosen == [1]
    with pytest.raises(ValueError, match="accept"):
        greedy_soup(states, evaluate, accept="ge")
    with pytest.raises(ValueError, match="scores"):
        greedy_soup(states, evaluate, scores=[1.0])


def test_greedy_ensemble_by_hand():
    labels = torch.tensor([0, 1, 1, 0])
    eye = torch.eye(2)
    m0 = eye[[0, 1, 0, 0]] * 0.6 + 0.2          # 3/4 right
    m1 = eye[[1, 1, 1, 1]] * 0.9 + 0.05         # 2/4 right, very confident
    m2 = eye[[0, 0, 1, 0]] * 0.8 + 0.1          # 3/4 right
    chosen = greedy_ensemble(torch.stack([m0, m1, m2]), labels)
    probs = torch.stack([m0, m1, m2])
    acc = lambda idx: (probs[idx].mean(0).argmax(1) == labels).float().mean().item()  # noqa: E731
    assert chosen[0] == 0
    assert acc(chosen) >= max(acc([i]) for i in range(3))
    # brute force over the greedy loop
    best, ref = acc([0]), [0]
    for i in (2, 1):
        if acc(ref + [i]) >= best:
            ref, best = ref + [i], acc(ref + [i])
    assert chosen == ref
    with pytest.raises(ValueError, match="probs"):
        greedy_ensemble(torch.zeros(2, 3), labels)


def test_state_evaluator_recomputes_bn_and_matches_manual():
    data = blob_images(64, seed=1)
    model = tiny_cnn(seed=0)
    batches = image_batches(data, 16)
    state = uniform_soup([tiny_cnn(seed=s).state_dict() for s in (1, 2)])
    ev = state_evaluator(model, data, bn_data=batches)
    manual = copy.deepcopy(model)
    manual.load_state_dict(state)
    update_bn(manual, batches)
    assert ev(state) == pytest.approx(evaluate(manual, data)["accuracy"])
    assert ev(state) == ev(state)
    with pytest.raises(ValueError, match="bn_data"):
        state_evaluator(model, data)


def test_mix_states_one_hot_and_uniform():
    states = [tiny_mlp(seed=s).state_dict() for s in range(3)]
    keys = list(states[0])
    one_hot = mix_states(states, torch.tensor([0.0, 1.0, 0.0]), keys)
    for k in keys:
        torch.testing.assert_close(one_hot[k], states[1][k])
    per_layer = torch.full((len(keys), 3), 1 / 3)
    mixed = mix_states(states, per_layer, keys)
    ref = uniform_soup(states)
    for k in keys:
        torch.testing.assert_close(mixed[k], ref[k])
    with pytest.raises(ValueError, match="weights"):
        mix_states(states, torch.ones(2, 3), keys)


def test_learned_soup_step_matches_explicit_gradient():
    x, y = rings(64, seed=0)
    model = tiny_mlp(seed=0)
    states = [train_mlp(tiny_mlp(seed=s), x, y, steps=30, seed=s).state_dict() for s in range(3)]
    logits = torch.tensor([0.2, -0.1, 0.3])
    new = learned_soup_step(model, states, logits, x, y, lr=0.5)

    def loss_of(a):  # independent: build the soup with explicit sums and a plain forward
        w = a.softmax(0)
        m = copy.deepcopy(model)
        params = {k: sum(w[i] * states[i][k] for i in range(3)) for k in states[0]}
        return F.cross_entropy(torch.func.functional_call(m, params, (x,)), y)

    eps = 1e-3
    grad = torch.zeros(3, dtype=torch.float64)
    for i in range(3):
        e = torch.zeros(3)
        e[i] = eps
        grad[i] = (loss_of(logits + e).double() - loss_of(logits - e).double()) / (2 * eps)
    torch.testing.assert_close(new.double(), logits.double() - 0.5 * grad, atol=2e-4, rtol=1e-3)
    out = soup_logits(model, states, torch.zeros(3), x)
    assert out.shape == (64, 2)


def test_learned_soup_prefers_the_good_ingredient():
    data = blob_images(80, seed=2)
    good = tiny_cnn(seed=0)
    from lsdl_ens.train import fit

    fit(good, data, epochs=8, lr_schedule=0.05, batch_size=16, seed=0, progress=False)
    bad = tiny_cnn(seed=5)
    states = [bad.state_dict(), good.state_dict()]
    soup, w = learned_soup(tiny_cnn(seed=0), states, data, epochs=6, lr=0.1, batch_size=16, progress=False)
    assert w.shape == (2,) and w.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert w[1] > 0.6
    soup_l, w_l = learned_soup(tiny_cnn(seed=0), states, data, per_layer=True, epochs=2, batch_size=16,
                               progress=False)
    n_params = len(list(good.parameters()))
    assert w_l.shape == (n_params, 2)
    torch.testing.assert_close(w_l.sum(1), torch.ones(n_params))
    assert soup.keys() == states[0].keys() and soup_l.keys() == states[0].keys()
    with pytest.raises(ValueError, match="data"):
        learned_soup(good, states, image_batches(data))
