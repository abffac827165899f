"""Zero-shot classification with an open_clip-style model, and the tiny CLIP's word tokenizer.

Zero-shot prediction: ``argmax_c <f(x), t_c>`` with ``f(x)`` the L2-normalised image embedding and ``t_c`` the
normalised mean over templates of the normalised text embeddings of class c (CLIP's prompt ensembling, Radford
et al. 2021, Sec. 3.1.4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data import CIFAR10_CLASSES, BatchLoader
from ._adapter import text_ensemble
from .clip_model import SimpleTokenizer
from .templates import CAPTION_TEMPLATES, WATT_TEMPLATES

__all__ = ["build_tokenizer", "zero_shot_accuracy"]


def build_tokenizer(class_names=CIFAR10_CLASSES, templates=CAPTION_TEMPLATES) -> SimpleTokenizer:
    """The word tokenizer over every caption of the pool (deterministic)."""
    return SimpleTokenizer.from_texts([t.format(c) for t in templates for c in class_names])


@torch.no_grad()
def zero_shot_accuracy(model, data, class_names=CIFAR10_CLASSES, templates=None, batch_size: int = 500) -> float:
    """Zero-shot accuracy of an open_clip-style model on an `ImageSet` (template-averaged text embeddings)."""
    templates = WATT_TEMPLATES if templates is None else templates
    device = next(model.parameters()).device
    text = text_ensemble(model, class_names, templates)
    correct = 0
    for x, y in BatchLoader(data, batch_size, device=device):
        image = F.normalize(model.encode_image(x).float(), dim=-1)
        correct += int(((image @ text.T).argmax(1) == y).sum())
    return correct / len(data)
