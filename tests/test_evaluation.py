"""lsdl_ens.evaluation: a state evaluated at a point (BN recomputed) equals doing each step by hand."""

import copy

import pytest
import torch
import torch.nn.functional as F
from _tiny import blob_images, image_batches, one_thread, tiny_cnn, tiny_mlp  # noqa: F401

from lsdl_ens import state as S
from lsdl_ens.bn import update_bn
from lsdl_ens.data import BatchLoader
from lsdl_ens.evaluation import (check_bn_data, evaluate_point, loss_and_error, preserved, replayable, stack_results,
                                 state_evaluator)
from lsdl_ens.models import model_device
from lsdl_ens.train import evaluate


@pytest.fixture(scope="module")
def task():
    data = blob_images(n=48, seed=3)
    return data, image_batches(data, batch_size=16, augment=True, seed=1), image_batches(data, batch_size=24)


def _by_hand(state, bn_batches, eval_batches):
    """Independent reference: load, update_bn, then sum the cross-entropy and the mistakes batch by batch."""
    model = tiny_cnn(seed=5)
    model.load_state_dict(state)
    update_bn(model, bn_batches)
    model.eval()
    with torch.no_grad():
        x = torch.cat([b[0] for b in eval_batches])
        y = torch.cat([b[1] for b in eval_batches])
        logits = model(x)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) != y).double().mean().item()


def test_evaluate_point_recomputes_bn_and_matches_the_steps_by_hand(task):
    data, bn_batches, eval_batches = task
    state = S.interpolate(tiny_cnn(seed=0).state_dict(), tiny_cnn(seed=1).state_dict(), 0.5)
    model = tiny_cnn(seed=2)
    row = evaluate_point(model, state, replayable(eval_batches, "eval_data"),
                         bn_batches=replayable(bn_batches, "bn_data"), train_batches=replayable(data, "train_data"),
                         device=torch.device("cpu"))
    loss, error = _by_hand(state, bn_batches, eval_batches)
    assert row["loss"] == pytest.approx(loss, rel=1e-5) and row["error"] == pytest.approx(error)
    reference = evaluate(model, data)  # the model now holds the point with recomputed BN
    assert row["train_loss"] == pytest.approx(reference["loss"], rel=1e-5)
    assert row["train_error"] == pytest.approx(reference["error"])
    stale = evaluate_point(model, state, replayable(eval_batches, "eval_data"), device=torch.device("cpu"))
    assert stale["loss"] != pytest.approx(loss, rel=1e-3)  # without bn_batches the averaged buffers stay


def test_replayable_gives_the_same_batches_each_time_and_refuses_one_shot_iterators(task):
    data, bn_batches, _ = task
    for source in (data, bn_batches, BatchLoader(data, 16, shuffle=True, augment=True, seed=3)):
        batches = replayable(source, "data", batch_size=16)
        first, second = list(batches()), list(batches())
        assert len(first) == 3 and all(torch.equal(a[0], b[0]) for a, b in zip(first, second))
    assert replayable(None, "data") is None
    with pytest.raises(ValueError, match="bn_data is a one-shot iterator"):
        replayable(iter(bn_batches), "bn_data")
    with pytest.raises(ValueError, match="eval_data must be an ImageSet"):
        replayable(3, "eval_data")


def test_check_bn_data_and_loss_and_error():
    with pytest.raises(ValueError, match="pass bn_data"):
        check_bn_data(tiny_cnn(), None)
    assert check_bn_data(tiny_cnn(), [1]) and not check_bn_data(tiny_cnn(), None, recompute_bn=False)
    assert not check_bn_data(tiny_mlp(), None)
    model = tiny_mlp(seed=1)
    x, y = torch.randn(10, 2, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1] * 5)
    loss, error = loss_and_error(model, [(x[:4], y[:4]), (x[4:], y[4:])], torch.device("cpu"))
    with torch.no_grad():
        logits = model(x)
    assert loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    assert error == pytest.approx((logits.argmax(1) != y).float().mean().item())
    with pytest.raises(ValueError, match="yielded no batch"):
        loss_and_error(model, [], torch.device("cpu"))


def test_preserved_restores_state_and_flags_and_stack_results_stacks():
    model = tiny_cnn(seed=0)
    model.eval()
    before = copy.deepcopy(model.state_dict())
    with preserved(model):
        model.load_state_dict(tiny_cnn(seed=1).state_dict())
        model.train()
    assert not model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    stacked = stack_results([{"loss": 1.0, "error": 0.5}, {"loss": 2.0, "error": 0.25}])
    assert stacked["loss"].tolist() == [1.0, 2.0] and stacked["error"].dtype.name == "float64"


def test_state_evaluator_matches_evaluate_point_and_leaves_the_template_alone(task):
    data, bn_batches, eval_batches = task
    template = tiny_cnn(seed=2)
    before = copy.deepcopy(template.state_dict())
    state = S.interpolate(tiny_cnn(seed=0).state_dict(), tiny_cnn(seed=1).state_dict(), 0.3)
    accuracy = state_evaluator(template, eval_batches, bn_data=bn_batches)
    neg_loss = state_evaluator(template, eval_batches, bn_data=bn_batches, metric="neg_loss")
    loss, error = _by_hand(state, bn_batches, eval_batches)
    assert accuracy(state) == pytest.approx(1 - error) and neg_loss(state) == pytest.approx(-loss, rel=1e-5)
    assert all(torch.equal(v, before[k]) for k, v in template.state_dict().items())
    one_batch = state_evaluator(template, eval_batches, bn_data=bn_batches, num_bn_batches=1, metric="neg_loss")
    assert one_batch(state) == pytest.approx(-_by_hand(state, bn_batches[:1], eval_batches)[0], rel=1e-5)


def test_model_device_is_the_first_tensor_or_the_given_device():
    assert model_device(tiny_mlp()) == torch.device("cpu")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu")
    assert model_device(tiny_mlp(), "meta") == torch.device("meta")
    assert model_device(tiny_mlp().to("meta")) == torch.device("meta")

