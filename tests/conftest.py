"""Shared test settings: quiet progress bars, one thread per test process, deterministic algorithms."""

import os

import pytest
import torch

os.environ.setdefault("LSDL_PROGRESS", "0")
torch.set_num_threads(1)  # tiny tensors: one thread is faster and avoids oversubscription


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A private LSDL_CACHE for the test."""
    monkeypatch.setenv("LSDL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def pytest_configure(config):
    config.addinivalue_line("markers", "course: slow checks of the book and the assignments (nbgrader, build)")
    config.addinivalue_line("markers", "cuda: needs a CUDA device (tests/test_cuda.py); deselected by make unit/test")
