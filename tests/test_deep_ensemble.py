"""Deep ensembles: probability averaging against a direct formula, member seeds, cached one-at-a-time training."""

import pytest
import torch

import lsdl_ens.recipes as R
from lsdl_ens import metrics
from lsdl_ens.data import BatchLoader
from lsdl_ens.ensembles import DeepEnsemble
from lsdl_ens.experiments.ensembles_members import main, member_recipe, train_deep_ensemble, train_member
from lsdl_ens.recipes import standard_recipe

from _tiny import blob_images, tiny_cnn, one_thread  # noqa: F401  (one_thread is an autouse fixture)


def test_prediction_averages_probabilities_not_logits():
    members = [tiny_cnn(seed=s) for s in range(3)]
    for m in members:  # make the members confident and different
        with torch.no_grad():
            m.head.weight.mul_(20)
    ens = DeepEnsemble(members)
    data = blob_images(40)
    x = torch.stack([torch.zeros(3, 8, 8)] * 2)
    assert ens(x).shape == (3, 2, 10)
    with torch.no_grad():
        logits = torch.stack([torch.cat([m.eval()(xb) for xb, _ in BatchLoader(data, 16)]) for m in members])
    expected = sum(torch.softmax(l, -1) for l in logits) / 3
    probs = ens.predict_probs(data)
    torch.testing.assert_close(probs, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(probs.sum(1), torch.ones(40))
    assert not torch.allclose(probs, logits.mean(0).softmax(-1), atol=1e-3)  # logit averaging differs
    torch.testing.assert_close(ens.predict_probs(data, size=1), logits[0].softmax(-1), rtol=1e-5, atol=1e-6)
    result = ens.evaluate(data)
    assert result["loss"] == pytest.approx(metrics.nll(probs, data.labels), rel=1e-5)
    assert result["accuracy"] == pytest.approx(metrics.accuracy(probs, data.labels))
    with pytest.raises(ValueError, match="size must be between 1 and 3"):
        ens.predict_probs(data, size=4)
    with pytest.raises(ValueError, match="non-empty list"):
        DeepEnsemble([])


def test_member_seeds():
    assert member_recipe("smoke", 3) == standard_recipe("smoke", seed=3)
    base = standard_recipe("smoke", seed=10, epochs=1)
    assert member_recipe(base, 2) == base.replace(seed=12)
    with pytest.raises(ValueError, match="index must be an integer >= 0"):
        member_recipe("smoke", -1)
    with pytest.raises(TypeError, match="index must be an integer >= 0"):
        member_recipe("smoke", 1.5)
    with pytest.raises(TypeError, match="pass a Recipe"):
        member_recipe({"model": "vgg"}, 0)
    with pytest.raises(ValueError, match="n_members is required"):
        train_deep_ensemble(base)


def test_members_train_one_at_a_time_through_the_cache(tmp_cache):
    base = standard_recipe("smoke", 0, model_kw={"widths": [4, 8, 8, 8]}, epochs=1, batch_size=16,
                           data={"source": "synthetic", "n_train": 64})  # 64 blob images, no CIFAR-10
    second = train_member(base, 1)                      # e.g. job 1 of an array
    ens = train_deep_ensemble(base, 3)                  # reads member 1, trains 0 and 2
    assert torch.equal(ens.members[1].head.weight, second.head.weight)
    assert not torch.equal(ens.members[0].head.weight, ens.members[1].head.weight)  # independent seeds
    assert len(list((tmp_cache / "checkpoints" / "train").glob("*.pt"))) == 3
    fresh = R.build_from_recipe(base.replace(seed=2))
    R.fit(fresh, R.training_loader(base.replace(seed=2)), epochs=1, lr_schedule=R.make_schedule(
        "cosine", epochs=1, lr=base.lr), weight_decay=base.weight_decay, seed=2)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, ens.members[2].state_dict()[k]), k


def test_command_line_trains_the_named_members(monkeypatch, capsys):
    called = []
    monkeypatch.setattr("lsdl_ens.experiments.ensembles_members.train_member", lambda p, i: called.append((p.name, i)))
    assert main(["--profile", "smoke", "--member", "1", "--member", "0"]) == 0
    assert called == [("smoke", 1), ("smoke", 0)]
