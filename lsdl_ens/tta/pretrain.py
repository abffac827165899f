"""Contrastive pre-training of the tiny CLIP on CIFAR-10 images and template captions (cached).

Each training image gets a caption ``template.format(class name)`` with a template drawn uniformly from the
64-template pool ``CAPTION_TEMPLATES``, anew every epoch. Loss: CLIP's symmetric InfoNCE over the batch,
    L = (CE(s I T^T, arange B) + CE(s T I^T, arange B)) / 2,  I, T L2-normalised, s = exp(logit_scale) <= 100.
Captions of same-class images in a batch are false negatives (as in CLIP on web data); the model still learns a
class-aligned embedding. Images: the profile's training split with crop + flip; AdamW, cosine learning rate.

Sizes: the profile's ``clip`` section (epochs of contrastive training); the images are the profile's training split.
    smoke: 2 epochs (1k images) | cpu: 8 epochs (10k) | gpu: 40 epochs (45k).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import checks
from ..cache import default_cache
from ..data import CIFAR10_CLASSES, BatchLoader, data_splits
from ..profiles import Profile, get_profile
from ..recipe_types import DataSpec, TypedRecipe
from ..recipes import check_recipe, cifar10_data
from ..schedules import make_schedule
from ..train import default_device, fit
from .clip_model import SimpleTokenizer, TinyCLIP
from .templates import CAPTION_TEMPLATES

__all__ = ["CLIPRecipe", "clip_recipe", "pretrained_clip", "build_tokenizer", "zero_shot_accuracy"]



def _pool_hash() -> str:
    return hashlib.sha256("\n".join(CAPTION_TEMPLATES).encode()).hexdigest()[:12]


def build_tokenizer(class_names=CIFAR10_CLASSES, templates=CAPTION_TEMPLATES) -> SimpleTokenizer:
    """The word tokenizer over every caption of the pool (deterministic)."""
    return SimpleTokenizer.from_texts([t.format(c) for t in templates for c in class_names])


@dataclass(frozen=True)
class CLIPRecipe(TypedRecipe):
    """The tiny CLIP's contrastive pre-training: image-tower ``widths``, embedding size, training ``data``, AdamW
    epochs, LR and weight decay, batch size, the hash of the caption templates, seed. Checked when built."""

    data: DataSpec
    epochs: int
    model: str = "tiny_clip"
    widths: tuple = (16, 32, 64, 128)
    embed_dim: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    batch_size: int = 128
    templates: str = ""
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.data, DataSpec):
            raise TypeError(f"data must be a DataSpec, got {self.data!r}")
        if self.model != "tiny_clip":
            raise ValueError(f"model must be 'tiny_clip', got {self.model!r}")
        widths = tuple(checks.positive_int(f"widths[{i}]", w) for i, w in enumerate(self.widths))
        object.__setattr__(self, "widths", widths)
        checks.positive_int("embed_dim", self.embed_dim)
        check_recipe({"epochs": self.epochs, "lr": self.lr, "weight_decay": self.weight_decay,
                      "batch_size": self.batch_size, "seed": self.seed})


def clip_recipe(profile: Profile | str | None = None, seed: int = 0, **overrides) -> CLIPRecipe:
    """The recipe of the profile's tiny CLIP (its ``clip`` sizes); `overrides` replace fields (unknown ones raise
    ValueError)."""
    p = get_profile(profile)
    recipe = CLIPRecipe(data=cifar10_data(p), epochs=p.clip.epochs, templates=_pool_hash(), seed=seed)
    return recipe.replace(**overrides) if overrides else recipe


def _build(recipe: CLIPRecipe) -> TinyCLIP:
    torch.manual_seed(recipe.seed)
    return TinyCLIP(build_tokenizer(), widths=recipe.widths, embed_dim=recipe.embed_dim)


def _contrastive_step(captions: torch.Tensor, generator: torch.Generator):
    """A `fit` train step: random caption per image, symmetric InfoNCE. Accuracy: the best-matching caption in
    the batch names the image's class."""

    def step(model, batch, optimizer, _step):
        x, y = batch
        pick = torch.randint(0, captions.shape[0], (len(y),), generator=generator)
        tokens = captions[pick, y.cpu()].to(x.device)
        image, text, scale = model(x, tokens)
        logits = scale.clamp(max=100.0) * image @ text.T
        target = torch.arange(len(y), device=x.device)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(max=4.6052)
        return loss.detach(), (y[logits.argmax(1)] == y).sum(), len(y)

    return step


def pretrained_clip(recipe: CLIPRecipe | None = None, *, cache=None, device=None, progress: bool | None = None):
    """The trained tiny CLIP of `recipe` (default `clip_recipe()`), from the checkpoint cache when present.

    Returns:
        (model in eval mode, info) with info = {"history": ..., "zero_shot_val": accuracy on the validation split
        with the WATT templates averaged}.

    Deliberate: the tiny CLIP trains in fp32 with contiguous weights (its contrastive step is a custom step of
    `lsdl_ens.train.fit`), whatever the profile's precision.
    """
    recipe = recipe or clip_recipe()
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()

    def build():
        model = _build(recipe).to(device)
        train, val, _ = data_splits(recipe.data)
        tok = model.tokenizer
        captions = torch.stack([tok([t.format(c) for c in CIFAR10_CLASSES]) for t in CAPTION_TEMPLATES])
        loader = BatchLoader(train, recipe.batch_size, shuffle=True, augment=True, drop_last=True,
                             seed=recipe.seed)
        gen = torch.Generator().manual_seed(recipe.seed + 12345)
        history = fit(model, loader, epochs=recipe.epochs,
                      optimizer=lambda ps: torch.optim.AdamW(ps, lr=recipe.lr, weight_decay=recipe.weight_decay),
                      lr_schedule=make_schedule("cosine", epochs=recipe.epochs, lr=recipe.lr),
                      train_step=_contrastive_step(captions, gen), seed=recipe.seed, device=device,
                      progress=progress, desc="tiny CLIP")
        acc = zero_shot_accuracy(model, val)
        return model.state_dict(), {"history": history.as_dict(), "zero_shot_val": acc}

    state, extra = cache.get_or_create("tiny_clip", recipe, build)
    model = _build(recipe)
    model.load_state_dict(state)
    return model.to(device).eval(), extra


@torch.no_grad()
def zero_shot_accuracy(model, data, class_names=CIFAR10_CLASSES, templates=None, batch_size: int = 500) -> float:
    """Zero-shot accuracy of an open_clip-style model on an `ImageSet` (template-averaged text embeddings)."""
    from .watt import WATT_TEMPLATES, text_ensemble

    templates = WATT_TEMPLATES if templates is None else templates
    device = next(model.parameters()).device
    text = text_ensemble(model, class_names, templates)
    correct = 0
    for x, y in BatchLoader(data, batch_size, device=device):
        image = F.normalize(model.encode_image(x).float(), dim=-1)
        correct += int(((image @ text.T).argmax(1) == y).sum())
    return correct / len(data)
