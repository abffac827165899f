"""Chapter 07's test-time adaptation runs: the tiny CLIP's contrastive pre-training on CIFAR-10 images and
template captions, and the accuracy of each adaptation method on (corrupted) test images (cached).

Each training image gets a caption ``template.format(class name)`` with a template drawn uniformly from the
64-template pool ``CAPTION_TEMPLATES``, anew every epoch. Loss: CLIP's symmetric InfoNCE over the batch,
    L = (CE(s I T^T, arange B) + CE(s T I^T, arange B)) / 2,  I, T L2-normalised, s = exp(logit_scale) <= 100.
Captions of same-class images in a batch are false negatives (as in CLIP on web data); the model still learns a
class-aligned embedding. Images: the profile's training split with crop + flip; AdamW, cosine learning rate.

Sizes: the profile's ``clip`` section (epochs of contrastive training); the images are the profile's training split.
    smoke: 2 epochs (1k images) | cpu: 8 epochs (20k) | gpu: 40 epochs (45k).
Adaptation: the profile's ``tta`` section (`lsdl_ens.profiles.sections.TTASizes`): test images per corruption (a
fixed random subset of the profile's test split), the adaptation batch, WATT's L and M, TENT's steps per batch,
steps per template of the averaging-strategy comparison (L x M = this; the paper uses 10) and the corruptions of
the per-corruption table (severity 5).

The algorithms (`WATT`, `TENT`, `TinyCLIP`, `tta_accuracy`, `zero_shot_accuracy`) live in the method family
`lsdl_ens.tta`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import checks
from ..cache import default_cache
from ..data import CIFAR10_CLASSES, BatchLoader, corrupt, data_splits, profile_data
from ..profiles import Profile, get_profile
from ..recipe_types import DataSpec, TypedRecipe
from ..recipes import check_recipe, cifar10_data
from ..schedules import make_schedule
from ..train import default_device, fit
from ..tta import CAPTION_TEMPLATES, TinyCLIP, build_tokenizer, make_adapter, tta_accuracy, zero_shot_accuracy

__all__ = ["CLIPRecipe", "clip_recipe", "pretrained_clip", "TTAEval", "tta_eval", "tta_eval_key", "evaluate_tta",
           "run_tta_eval", "strategy_settings", "test_images"]

WATT_METHODS = ("sequential", "parallel", "text", "output")


def _pool_hash() -> str:
    return hashlib.sha256("\n".join(CAPTION_TEMPLATES).encode()).hexdigest()[:12]


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


def test_images(profile: Profile | str | None = None, corruption: str | None = None, severity: int = 5,
                n_images: int | None = None):
    """(normalised float images [N, 3, 32, 32], labels [N]) of the profile's test split (a fixed random subset of
    ``n_images``, default the profile's ``tta.n_images``), corrupted at `severity` when `corruption` is given."""
    p = get_profile(profile)
    n = n_images or p.tta.n_images
    _, _, test = profile_data(p)
    g = torch.Generator().manual_seed(7)
    idx = torch.randperm(len(test), generator=g)[:n]
    images, labels = test.images[idx], test.labels[idx]
    if corruption is not None:
        images = corrupt(images, corruption, severity, seed=0)
    loader = BatchLoader(test, 1)  # only for its normalisation
    return loader.normalize(images), labels


@dataclass(frozen=True)
class TTAEval:
    """One cached adaptation run: ``method`` ("none", "tent", or a WATT mode: sequential / parallel / text /
    output) on the profile's test images under ``corruption`` (None: clean) at ``severity``, with the method's
    keyword arguments ``kw`` as sorted (name, value) pairs (empty: the profile's defaults)."""

    method: str
    corruption: str | None
    profile: Profile
    severity: int = 5
    kw: tuple = ()

    def __post_init__(self):
        checks.one_of("method", self.method, ("none", "tent", *WATT_METHODS))
        if not isinstance(self.profile, Profile):
            raise TypeError(f"profile must be a resolved Profile (get_profile(...)), got {self.profile!r}")
        object.__setattr__(self, "kw", tuple(sorted(dict(self.kw).items())))


def tta_eval(method: str, corruption: str | None, profile: Profile, severity: int = 5, **kw) -> TTAEval:
    """The `TTAEval` of `evaluate_tta(method, corruption, severity, profile=profile, **kw)`."""
    return TTAEval(method, corruption, get_profile(profile), severity, tuple(kw.items()))


def _method_kw(spec: TTAEval) -> dict:
    sizes, kw = spec.profile.tta, dict(spec.kw)
    if spec.method in WATT_METHODS:
        kw.setdefault("n_iters", sizes.n_iters)
        kw.setdefault("n_rounds", sizes.n_rounds)
    elif spec.method == "tent":
        kw.setdefault("n_steps", sizes.tent_steps)
    return kw


def tta_eval_key(spec: TTAEval) -> dict:
    """The cache key (kind ``"tta_eval"``) of one adaptation run."""
    p, sizes = spec.profile, spec.profile.tta
    return {"clip": clip_recipe(p), "method": spec.method, "kw": _method_kw(spec), "corruption": spec.corruption,
            "severity": spec.severity, "n_images": sizes.n_images, "batch_size": sizes.batch_size,
            "profile": p.name}


def run_tta_eval(spec: TTAEval, *, cache=None, device=None) -> dict:
    """Cached accuracy of one adaptation run (`TTAEval`). Returns {"accuracy", "seconds", "correct" (bool per
    test image, in the order of `test_images`), "recipe"}."""
    if not isinstance(spec, TTAEval):
        raise TypeError(f"spec must be a TTAEval (made by tta_eval(...)), got {spec!r}")
    p, sizes = spec.profile, spec.profile.tta
    recipe = tta_eval_key(spec)
    cache = cache or default_cache()

    def build():
        model, _ = pretrained_clip(recipe["clip"], cache=cache, device=device)
        images, labels = test_images(p, spec.corruption, spec.severity, sizes.n_images)
        adapter = make_adapter(model, spec.method, **recipe["kw"])
        out = tta_accuracy(model, adapter, images, labels, sizes.batch_size)
        return {"correct": out["correct"]}, {"accuracy": out["accuracy"], "seconds": out["seconds"]}

    state, extra = cache.get_or_create("tta_eval", recipe, build)
    return {**extra, "correct": state["correct"].bool(), "recipe": recipe}


def evaluate_tta(method: str, corruption: str | None = None, severity: int = 5, *, profile=None,
                 cache=None, device=None, **method_kw) -> dict:
    """Cached accuracy of `method` ("none", "tent", "sequential", "parallel", "text", "output") on the profile's
    test images under `corruption` (None: clean). Defaults: WATT's L and M and TENT's steps from the profile's
    ``tta`` section. Returns {"accuracy", "seconds", "correct", "recipe"} (see `run_tta_eval`)."""
    spec = tta_eval(method, corruption, get_profile(profile), severity, **method_kw)
    return run_tta_eval(spec, cache=cache, device=device)


def strategy_settings(steps: int) -> dict:
    """The averaging strategies of the WATT ablation at `steps` gradient steps per template:
    {label: (method, kw)}: text average, output average, and weight average after steps x 1, 1 x steps and
    (steps / 2) x 2 (L x M) iterations (10x1, 1x10, 2x5 in the paper when steps = 10; 2x5 needs steps = 10)."""
    steps = checks.positive_int("steps", steps, "pass the profile's tta.strategy_steps")
    out = {"text average": ("text", {"n_iters": steps, "n_rounds": 1}),
           "output average": ("output", {"n_iters": steps, "n_rounds": 1}),
           f"weight average {steps}x1": ("parallel", {"n_iters": steps, "n_rounds": 1}),
           f"weight average 1x{steps}": ("parallel", {"n_iters": 1, "n_rounds": steps})}
    if steps % 2 == 0 and steps > 2:
        L = 2 if steps == 10 else steps // 2
        out[f"weight average {L}x{steps // L}"] = ("parallel", {"n_iters": L, "n_rounds": steps // L})
    return out
