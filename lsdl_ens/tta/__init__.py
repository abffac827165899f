"""Test-time adaptation of CLIP-style models: WATT (weight averaging over text templates), a TENT-style entropy
baseline, and a tiny CLIP trained contrastively on CIFAR-10 with open_clip's interface.

    model, info = pretrained_clip()      # lsdl_ens.experiments.optimizers_tta: cached, sized by the profile
    watt = WATT(model, CIFAR10_CLASSES, mode="sequential")
    labels = watt.adapt_predict(images)                   # one test batch (B >= 2), episodic

With open_clip and real weights (not downloaded by this package): ``model, _, preprocess =
open_clip.create_model_and_transforms("ViT-B-32", pretrained="openai")``, ``model.float().eval()``, then
``WATT(model, class_names, tokenizer=open_clip.get_tokenizer("ViT-B-32"))`` on ``preprocess``-ed image batches;
the same code adapts the ViT's visual LayerNorms.
"""

from ._adapter import template_embeddings, text_ensemble, visual_norm_params
from .clip_model import LayerNorm2d, SimpleTokenizer, TinyCLIP
from .evaluate import make_adapter, tta_accuracy
from .templates import CAPTION_TEMPLATES, WATT_TEMPLATES
from .tent import TENT, entropy_loss
from .watt import WATT, average_weights, watt_loss
from .zero_shot import build_tokenizer, zero_shot_accuracy

__all__ = [
    "WATT", "WATT_TEMPLATES", "watt_loss", "average_weights", "text_ensemble", "template_embeddings",
    "visual_norm_params", "TENT", "entropy_loss", "TinyCLIP", "SimpleTokenizer", "LayerNorm2d", "CAPTION_TEMPLATES",
    "build_tokenizer", "zero_shot_accuracy", "tta_accuracy", "make_adapter",
]
