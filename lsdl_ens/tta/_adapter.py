"""Shared machinery of the test-time adapters: which parameters adapt, text embeddings, reset, prediction."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from .templates import WATT_TEMPLATES


@torch.no_grad()
def template_embeddings(model, class_names: Sequence[str], templates: Sequence[str], tokenizer=None) -> torch.Tensor:
    """L2-normalised text embeddings [H, C, D] of every (template, class) pair (text tower under no_grad)."""
    tokenizer = tokenizer or getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("the model has no .tokenizer attribute; pass tokenizer= (e.g. open_clip.get_tokenizer(name))")
    device = next(model.parameters()).device
    out = []
    for template in templates:
        tokens = tokenizer([template.format(c) for c in class_names]).to(device)
        out.append(F.normalize(model.encode_text(tokens).float(), dim=-1))
    return torch.stack(out)


@torch.no_grad()
def text_ensemble(model, class_names: Sequence[str], templates: Sequence[str] = WATT_TEMPLATES,
                  tokenizer=None) -> torch.Tensor:
    """Per class, the mean of the normalised template embeddings, renormalised: [C, D] (CLIP's prompt ensemble)."""
    return F.normalize(template_embeddings(model, class_names, templates, tokenizer).mean(0), dim=-1)


def visual_norm_params(model) -> list[tuple[str, nn.Parameter]]:
    """(name, parameter) of the affine weight and bias of every ``nn.LayerNorm`` in ``model.visual``."""
    visual = getattr(model, "visual", None)
    if visual is None:
        raise ValueError("the model has no .visual image tower; WATT needs an open_clip/CLIP-style model")
    params = []
    for name, module in visual.named_modules():
        if isinstance(module, nn.LayerNorm):
            for pname, p in module.named_parameters(recurse=False):
                if pname in ("weight", "bias"):
                    params.append((f"visual.{name}.{pname}", p))
    if not params:
        raise ValueError("model.visual has no nn.LayerNorm with affine parameters; nothing to adapt")
    return params


class LNAdapter:
    """Base class: freezes the model except the visual LayerNorm affine parameters, keeps their initial values,
    predicts with the template-averaged text embeddings."""

    def __init__(self, model, class_names: Sequence[str], *, templates: Sequence[str] = WATT_TEMPLATES,
                 lr: float = 1e-3, tokenizer=None):
        if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
            raise TypeError(f"class_names must be a list of class names, got {class_names!r}; e.g. "
                            "lsdl_ens.data.CIFAR10_CLASSES")
        for i, c in enumerate(class_names):
            if not isinstance(c, str) or not c:
                raise TypeError(f"class_names[{i}] must be a non-empty str, got {c!r}")
        templates = checks.non_empty("templates", templates, "pass e.g. lsdl_ens.tta.WATT_TEMPLATES",
                                     what="a non-empty list of caption templates")
        for i, t in enumerate(templates):
            if not isinstance(t, str) or "{}" not in t:
                raise ValueError(f"templates[{i}] must be a str with a {{}} placeholder for the class name, got "
                                 f"{t!r}; e.g. 'a photo of a {{}}.'")
        checks.real("lr", lr)
        if len(class_names) < 2:
            raise ValueError(f"class_names must name at least 2 classes; got {len(class_names)}")
        if lr <= 0:
            raise ValueError(f"lr must be > 0; got {lr}")
        checks.positive_float("lr", lr, "pass a small positive learning rate such as 1e-3")
        self.model = model
        self.class_names = tuple(class_names)
        self.templates = tuple(templates)
        self.lr = lr
        model.requires_grad_(False)
        self.named_params = visual_norm_params(model)
        self.params = [p for _, p in self.named_params]
        for p in self.params:
            p.requires_grad_(True)
        self.initial = [p.detach().clone() for p in self.params]
        self.text = template_embeddings(model, class_names, templates, tokenizer)  # [H, C, D]
        self.text_avg = F.normalize(self.text.mean(0), dim=-1)                    # [C, D]
        self.optimizer = self.new_optimizer()

    def new_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.params, lr=self.lr, betas=(0.9, 0.999), weight_decay=0.0)

    def get_weights(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def set_weights(self, weights) -> None:
        for p, w in zip(self.params, weights):
            p.copy_(w)

    def reset(self) -> None:
        """Back to the original model (visual LN parameters) and a fresh optimizer."""
        self.set_weights(self.initial)
        self.optimizer = self.new_optimizer()

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_image(images).float(), dim=-1)

    @staticmethod
    def check_batch(images: torch.Tensor) -> None:
        if not torch.is_tensor(images) or images.dim() < 2:
            raise ValueError("images must be a batch tensor [B, ...]")
        if images.shape[0] < 2:
            raise ValueError(f"images has batch size {images.shape[0]}; test-time adaptation needs a batch of at "
                             "least 2 images (the WATT loss compares images within the batch and is identically 0 "
                             "for one image)")

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """100 * cos(image, template-averaged class text) [B, C] with the current weights."""
        return 100.0 * self.image_features(images) @ self.text_avg.T

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Predicted labels [B] with the current (adapted) weights and the template-averaged text embeddings."""
        return self.logits(images).argmax(1)

    def adapt(self, images: torch.Tensor) -> None:
        raise NotImplementedError

    def adapt_predict(self, images: torch.Tensor) -> torch.Tensor:
        """Adapt on the batch, then predict the same batch (transductive, as in the reference)."""
        self.adapt(images)
        return self.predict(images)
