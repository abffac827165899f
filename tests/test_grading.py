import pytest
import torch

import lsdl_ens.metrics as M
from lsdl_ens.grading import ShortcutError, assert_close, call_student, forbid_library_calls
from lsdl_ens.metrics import ece as imported_ece


def test_guard_blocks_calls_into_the_library_however_imported():
    probs = torch.full((4, 2), 0.5)
    labels = torch.tensor([0, 1, 0, 1])
    with pytest.raises(ShortcutError, match="metrics/calibration.py:ece"):
        call_student(lambda p, y: imported_ece(p, y), probs, labels)
    with pytest.raises(ShortcutError, match="reference library"):
        call_student(lambda p, y: M.nll(p, y), probs, labels)


def test_guard_allows_torch_and_is_removed_afterwards():
    def own_nll(p, y):
        return -torch.log(p[torch.arange(len(y)), y]).mean()

    probs = torch.full((4, 2), 0.5)
    labels = torch.tensor([0, 1, 0, 1])
    with forbid_library_calls():
        value = own_nll(probs, labels)
    assert abs(float(value) - M.nll(probs, labels)) < 1e-6  # library callable again after the block


def test_feedback_names_expected_got_and_context():
    with pytest.raises(AssertionError, match=r"ece on N=10: expected 0.5, got 0.25"):
        assert_close(0.25, 0.5, what="ece", context="N=10")
    with pytest.raises(AssertionError, match="max abs difference 1 over 3 entries"):
        assert_close(torch.tensor([1.0, 2, 3]), torch.tensor([1.0, 2, 4]), what="probs")
    with pytest.raises(AssertionError, match="returned None"):
        assert_close(None, 1.0, what="brier")
    with pytest.raises(AssertionError, match="expected shape"):
        assert_close(torch.ones(2), torch.ones(3), what="x")
    assert_close(1.0 + 1e-9, 1.0, what="x")
