"""The training engine: `fit` one model; `evaluate`, `predict_logits` and `predict_probs` (defined in
`lsdl_ens.prediction`) are importable from here too.

`fit` sets the learning rate every iteration from `lr_schedule(step)`, where `step` is a `TrainStep` (iteration,
fractional epoch, totals), so per-iteration schedules (SSE, FGE, cSGLD) and per-epoch ones (SWA) plug in alike.
Callbacks see every step and every epoch end: SWA/SWAG/FGE/SSE collectors hook in there.

Speed on a GPU: batches come from images kept on the device and are augmented there (`BatchLoader`), `fit` does
not wait for the device inside an epoch (the loss is checked and shown every `log_every` steps and summed on the
device), ``torch.backends.cudnn.benchmark`` is switched on for CUDA, and ``precision="bf16"`` (autocast) and
``channels_last=True`` are options; with both off (the default) a CPU run is the same as without them.

Reproducibility: `fit(seed=s)` seeds torch's global RNG (initialisation of anything created inside, dropout) and
the data order and augmentation of every epoch; on CPU the same call with the same number of threads
(`torch.get_num_threads()`) gives the same weights bit for bit. Other thread counts sum in another order and
differ in the last bits, which training amplifies into small differences of the final accuracy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .data import BatchLoader, ImageSet
from .fit_checks import check_finite_loss, check_finite_weights, check_fit_arguments, scheduled_lr
from .prediction import evaluate, predict_logits, predict_probs  # noqa: F401  (public names of this module too)


@dataclass(frozen=True)
class TrainStep:
    """Where training is: passed to `lr_schedule` and callbacks."""

    iteration: int              # global iteration, from 0
    epoch: int                  # current epoch, from 0
    batch: int                  # batch index within the epoch
    iterations_per_epoch: int
    epochs: int

    @property
    def total_iterations(self) -> int:
        return self.iterations_per_epoch * self.epochs

    @property
    def epoch_float(self) -> float:
        """Fractional epoch, e.g. 2.5 halfway through the third epoch."""
        return self.epoch + self.batch / self.iterations_per_epoch


class Callback:
    """Base class of training callbacks; override what you need."""

    def on_train_begin(self, model, optimizer) -> None: ...
    def on_step_end(self, model, optimizer, step: TrainStep, loss) -> None:
        """`loss` is what the train step returned: a 0-dim tensor on the device (``float(loss)`` waits for it)."""
    def on_epoch_end(self, model, optimizer, step: TrainStep, history: History) -> None: ...
    def on_train_end(self, model, optimizer) -> None: ...


@dataclass
class History:
    """Per-epoch record of a run (plain lists, so it can be cached)."""

    epoch: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    eval_loss: list = field(default_factory=list)
    eval_accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: list(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**{k: list(v) for k, v in d.items()})


def default_device() -> torch.device:
    """``$LSDL_DEVICE`` if set (e.g. ``cuda:1``, ``cpu``), else ``cuda`` when available, else ``cpu``."""
    name = os.environ.get("LSDL_DEVICE")
    if name:
        try:
            return torch.device(name)
        except RuntimeError:
            raise ValueError(f"LSDL_DEVICE={name!r} is not a torch device; use e.g. 'cuda', 'cuda:1' or "
                             "'cpu'") from None
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def progress_enabled(progress: bool | None) -> bool:
    """Progress bars are on unless `progress=False` or ``LSDL_PROGRESS=0``."""
    if progress is not None:
        return progress
    return os.environ.get("LSDL_PROGRESS", "1") != "0"


def make_optimizer(optimizer, model, lr: float, weight_decay: float):
    """The optimizer `fit` uses: an instance as given, or "sgd" (default; momentum 0.9, Nesterov), "adam" or a
    factory ``params -> optimizer`` over the model's trainable parameters. Runs that must repeat a `fit` run step
    for step (spawning, FGE's start) build theirs here."""
    if isinstance(optimizer, torch.optim.Optimizer):
        if weight_decay:
            raise ValueError("weight_decay was given together with an optimizer instance; set weight decay on "
                             "the optimizer itself and leave fit(weight_decay=0)")
        return optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer in (None, "sgd"):
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if callable(optimizer):
        return optimizer(params)
    raise ValueError(f"optimizer must be None, 'sgd', 'adam', a torch optimizer or a factory params -> optimizer; "
                     f"got {optimizer!r}")


def cross_entropy_step(model, batch, optimizer, step: TrainStep, label_smoothing: float = 0.0,
                       precision: str = "fp32"):
    """The default training step: one SGD step on mean cross-entropy. Returns (loss, n_correct, n).

    ``precision="bf16"`` runs the forward pass and the loss under ``torch.autocast`` (bfloat16 matmuls and
    convolutions, float32 weights and optimizer); the backward pass follows the forward's dtypes."""
    x, y = batch
    with torch.autocast(_autocast_device(x), dtype=torch.bfloat16, enabled=precision == "bf16"):
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), (logits.argmax(1) == y).sum(), len(y)


def _autocast_device(x) -> str:
    first = x[0] if isinstance(x, (list, tuple)) else x
    return first.device.type if first.device.type in ("cuda", "cpu") else "cpu"


def _channels_last(batch):
    """The images of a batch ((x, y) or (views, y)) in channels_last memory format."""
    x, *rest = batch

    def convert(v):
        return v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v

    return (tuple(map(convert, x)) if isinstance(x, tuple) else convert(x), *rest)


def fit(model: torch.nn.Module, data, *, epochs: int, optimizer=None, lr_schedule: Callable | float = 0.05,
        weight_decay: float = 0.0, callbacks: Sequence[Callback] = (), seed: int = 0, batch_size: int = 128,
        eval_data=None, label_smoothing: float = 0.0, train_step: Callable | None = None,
        device=None, progress: bool | None = None, desc: str = "train", log_every: int = 50,
        precision: str = "fp32", channels_last: bool = False) -> History:
    """Train `model` in place for `epochs` epochs and return its `History`.

    Args:
        model: any classifier (logits out). It is moved to `device`.
        data: an `ImageSet` (then batches of `batch_size`, shuffled, crop+flip augmented) or a `BatchLoader`.
        epochs: number of passes over `data`.
        optimizer: None or "sgd" (SGD, momentum 0.9, Nesterov), "adam", a factory `params -> optimizer`, or an
            optimizer instance (then `weight_decay` must be 0).
        lr_schedule: a constant, or `f(step: TrainStep) -> lr`, applied before every iteration.
        weight_decay: L2 coefficient of the optimizer fit builds.
        callbacks: `Callback` objects (collectors for SWA, SWAG, snapshots ...).
        seed: seeds torch's RNG and the data order/augmentation of every epoch.
        eval_data: optional `ImageSet`/loader evaluated at each epoch end (adds eval_loss/eval_accuracy).
        label_smoothing: of the default cross-entropy step.
        train_step: replaces `cross_entropy_step` (same signature) for custom objectives.
        progress: tqdm bar (default on unless ``LSDL_PROGRESS=0``).
        log_every: every this many steps (and at each epoch end) the summed loss is read from the device, checked
            for NaN/inf and shown on the bar; in between `fit` never waits for the device.
        precision: "fp32" (default) or "bf16" (autocast of the default step's forward pass and loss).
        channels_last: model and images in channels_last memory format (faster convolutions on recent GPUs and CPUs).

    Raises:
        TypeError, ValueError: a bad argument, checked before any work: ``epochs``, ``batch_size``, ``seed`` (ints,
            not bools or 2.5), the learning rate (finite, >= 0; a schedule's value is checked at every step), the
            weight decay, label smoothing, callbacks, the device, and labels of ``data`` outside the model's classes.
        FloatingPointError: the training loss becomes NaN/inf (checked every ``log_every`` steps: names the epoch
            and the batches since the last check), or the weights are NaN/inf after the last step.

    Deliberate: a learning rate of 0 is accepted (a frozen run); the labels are checked against the head only for
    an ``ImageSet``/``BatchLoader`` and the default step (a custom ``train_step`` may use other targets).
    """
    check_fit_arguments(model, data, epochs, lr_schedule, weight_decay, callbacks, seed, batch_size,
                        label_smoothing, train_step, eval_data, device, log_every, precision)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    torch.manual_seed(seed)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest convolution algorithms
    loader = data if isinstance(data, BatchLoader) else None
    if loader is None:
        if not isinstance(data, ImageSet):
            raise ValueError(f"data must be an ImageSet or a BatchLoader; got {type(data).__name__}")
        loader = BatchLoader(data, batch_size, shuffle=True, augment=True, drop_last=len(data) > batch_size,
                             seed=seed, device=device)
    loader.to(device)
    schedule = lr_schedule if callable(lr_schedule) else (lambda _s, v=float(lr_schedule): v)
    opt = make_optimizer(optimizer, model, scheduled_lr(schedule, TrainStep(0, 0, 0, max(len(loader), 1), epochs)),
                         weight_decay)
    step_fn = train_step or (lambda m, b, o, s: cross_entropy_step(m, b, o, s, label_smoothing, precision))
    history = History()
    for cb in callbacks:
        cb.on_train_begin(model, opt)
    n_batches = len(loader)
    bar = tqdm(total=epochs * n_batches, desc=desc, disable=not progress_enabled(progress), leave=False)
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        for b, batch in enumerate(loader.iterate(epoch=epoch, seed=seed)):
            step = TrainStep(epoch * n_batches + b, epoch, b, n_batches, epochs)
            lr = scheduled_lr(schedule, step)
            for group in opt.param_groups:
                group["lr"] = lr
            loss, n_correct, n = step_fn(model, batch if not channels_last else _channels_last(batch), opt, step)
            loss_sum += loss * n
            correct += n_correct
            seen += n
            if (b + 1) % log_every == 0 or b + 1 == n_batches:
                running = float(loss_sum)  # the only wait for the device within an epoch
                check_finite_loss(running, epoch, b, log_every)
                bar.set_postfix(loss=f"{running / max(seen, 1):.3f}")
            for cb in callbacks:
                cb.on_step_end(model, opt, step, loss)
            bar.update(1)
        history.epoch.append(epoch + 1)
        history.lr.append(float(opt.param_groups[0]["lr"]))
        history.train_loss.append(float(loss_sum) / max(seen, 1))
        history.train_accuracy.append(float(correct) / max(seen, 1))
        if eval_data is not None:
            metrics = evaluate(model, eval_data, device=device)
            history.eval_loss.append(metrics["loss"])
            history.eval_accuracy.append(metrics["accuracy"])
        history.seconds.append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", acc=f"{history.train_accuracy[-1]:.3f}")
        end_step = TrainStep((epoch + 1) * n_batches, epoch, n_batches, n_batches, epochs)
        for cb in callbacks:
            cb.on_epoch_end(model, opt, end_step, history)
    bar.close()
    check_finite_weights(model, epochs)
    for cb in callbacks:
        cb.on_train_end(model, opt)
    return history


def set_seed(seed: int) -> None:
    """Seed torch's global RNG (CPU and CUDA)."""
    torch.manual_seed(seed)
