"""WATT: Weight Average Test-Time adaptation of CLIP, and the template-averaging baselines of its ablation.

For a test batch of B images and each of H templates, WATT takes L Adam steps on the CLIPArTT-style loss
`watt_loss` (only the affine weight and bias of the image tower's LayerNorms adapt) and averages the H resulting
weight sets uniformly; this is repeated for M rounds:
    WATT-P (parallel):   each round, every template starts from the average theta_bar; theta_bar <- mean_h theta_h.
    WATT-S (sequential): each round starts from theta_bar and visits the templates in order, carrying weights
                         and Adam state; theta_bar <- mean of the H snapshots taken after each template.
Round 1 starts from the original weights with a fresh Adam; later rounds reload only the weights, so the Adam
state carries over (as in the reference). Adaptation is episodic (reset before every batch) and transductive
(adapt on the batch, then predict it); predictions use the template-averaged text embeddings.

References:
    D. Osowiechi, M. Noori, G. A. V. Hakim, M. Yazdanpanah, A. Bahri, M. Cheraghalikhani, S. Dastani,
    F. Beizaee, I. Ben Ayed, C. Desrosiers, "WATT: Weight Average Test-Time Adaptation of CLIP", NeurIPS 2024,
    https://arxiv.org/abs/2406.13875. Reference implementation: Mehrdad-Noori/WATT@89d5089: adapt/watt.py
    (``perform_adaptation``, ``weight_average``, ``cross_entropy``), clip/model.py (``forward``), templates.yaml.

Note (deliberate deviations):
    * The pseudo-labels and the loss use one image forward pass (the reference runs the encoder twice on the same
      weights, once under no_grad); the values are identical.
    * Text embeddings are computed once per `WATT` object (the text tower is frozen) instead of once per batch.
    * Modes "text" and "output" are the ablation baselines of the paper (Table "averaging strategies"):
      "text" adapts one model with the template-averaged text embeddings for L*M steps; "output" adapts one model
      per template for L*M steps from the original weights and averages their softmax outputs.
    * Works unchanged on open_clip / OpenAI CLIP models (``model.visual`` with ``nn.LayerNorm`` layers,
      ``encode_image``, ``encode_text``, ``logit_scale``) given their tokenizer and CLIP-preprocessed images;
      call ``model.float()`` first on GPU (CLIP loads in fp16).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .. import checks
from ._adapter import LNAdapter, text_ensemble
from .templates import WATT_TEMPLATES

__all__ = ["WATT", "WATT_TEMPLATES", "watt_loss", "text_ensemble", "average_weights"]

_MODES = ("sequential", "parallel", "text", "output")


def watt_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale, tau: float = 0.01):
    """The CLIPArTT/WATT loss of one template step (reference convention).

    With I = image_features, T = text_features (both B x D, L2-normalised; T[i] is the text embedding of image
    i's pseudo-label under the current template), P = s T I^T and Q = row-softmax((I I^T + T T^T) / (2 tau)):
        loss = -(1/B) sum_j sum_i Q^T[j, i] log softmax_i(P^T[j, :])[i],
    the cross-entropy of the rows of P^T against the rows of Q^T (which need not sum to 1), averaged over the batch.
    Identically 0 for B = 1.
    """
    image_features = checks.tensor("image_features", image_features, floating=True)
    text_features = checks.tensor("text_features", text_features, floating=True)
    checks.real("tau", tau)
    if image_features.shape != text_features.shape or image_features.dim() != 2:
        raise ValueError(f"image_features and text_features must both be B x D; got {tuple(image_features.shape)} "
                         f"and {tuple(text_features.shape)}")
    if tau <= 0:
        raise ValueError(f"tau must be > 0; got {tau}")
    checks.positive_float("tau", tau, "pass a small temperature such as 0.01")
    if not torch.is_tensor(logit_scale):
        checks.positive_float("logit_scale", logit_scale, "pass CLIP's logit scale, e.g. 100.0")
    logits = logit_scale * text_features @ image_features.T                       # P, B x B
    targets = F.softmax((image_features @ image_features.T + text_features @ text_features.T) / 2 / tau, dim=-1)
    return (-targets.T * F.log_softmax(logits.T, dim=-1)).sum(1).mean()


def average_weights(weight_sets: Sequence[Sequence[torch.Tensor]]) -> list[torch.Tensor]:
    """Uniform average of H weight sets (each a list of tensors in the same order)."""
    if not weight_sets:
        raise ValueError("weight_sets is empty; pass at least one set of weights")
    return [torch.stack(ws).mean(0) for ws in zip(*weight_sets)]


class WATT(LNAdapter):
    """Weight Average Test-Time adaptation (see the module docstring).

    Args:
        model: open_clip-style model (``visual``, ``encode_image``, ``encode_text``, ``logit_scale``); its visual
            LayerNorm affine parameters are set to require grad, everything else is frozen.
        class_names: class names in label order.
        mode: "sequential" (WATT-S), "parallel" (WATT-P), or the baselines "text" / "output".
        n_iters: L, steps per template per round.
        n_rounds: M, rounds of weight averaging.
        lr: Adam learning rate (reference scripts: 1e-3).
        templates: the H templates (default the 8 WATT templates).
        tau: temperature of the targets.
        episodic: reset to the original weights before every batch (reference); False carries weights over.
        tokenizer: default ``model.tokenizer``; pass open_clip's tokenizer for real CLIP.

    Example:
        >>> watt = WATT(clip_model, class_names, mode="sequential", n_iters=2, n_rounds=5)
        >>> labels = watt.adapt_predict(images)      # adapt on the batch, predict it
    """

    def __init__(self, model, class_names: Sequence[str], mode: str = "sequential", n_iters: int = 2,
                 n_rounds: int = 5, lr: float = 1e-3, *, templates: Sequence[str] = WATT_TEMPLATES,
                 tau: float = 0.01, episodic: bool = True, tokenizer=None):
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}; got {mode!r}")
        checks.positive_int("n_iters", n_iters, "pass the steps per template, e.g. 2")
        checks.positive_int("n_rounds", n_rounds, "pass the number of averaging rounds, e.g. 5")
        checks.positive_float("tau", tau, "pass a small temperature such as 0.01")
        for name, v in (("n_iters", n_iters), ("n_rounds", n_rounds)):
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {v}")
        super().__init__(model, class_names, templates=templates, lr=lr, tokenizer=tokenizer)
        self.mode, self.n_iters, self.n_rounds = mode, int(n_iters), int(n_rounds)
        self.tau, self.episodic = tau, episodic
        self.output_weights = None  # "output" mode: one weight set per template
        self.trace: list[dict] = []  # per adapt(): (round, template, loss) of every step, for plots
        self.record_weights = False  # also store the flattened adapted parameters after every step in `trace`
        self.averages: list[torch.Tensor] = []  # flattened start weights and the average after every round

    def _step(self, images: torch.Tensor, text: torch.Tensor) -> float:
        """One Adam step on `watt_loss` with the pseudo-labels of template embeddings `text` [C, D]."""
        image = self.image_features(images)
        with torch.no_grad():
            pseudo = (image @ text.T).argmax(1)
        loss = watt_loss(image, text[pseudo], self.model.logit_scale.exp().float(), self.tau)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def _steps(self, images, text, n: int, rnd: int, h: int) -> None:
        for _ in range(n):
            row = {"round": rnd, "template": h, "loss": self._step(images, text)}
            if self.record_weights:
                row["weights"] = torch.cat([p.detach().flatten() for p in self.params]).cpu()
            self.trace.append(row)

    def adapt(self, images: torch.Tensor) -> None:
        """Adapt the visual LayerNorm parameters on one batch (B >= 2)."""
        self.check_batch(images)
        if self.episodic:
            self.reset()
        else:
            self.optimizer = self.new_optimizer()
        start = self.get_weights()
        self.trace, self.averages = [], [torch.cat([w.flatten() for w in start]).cpu()]
        self.output_weights = None
        with torch.enable_grad():
            if self.mode == "text":
                self._steps(images, self.text_avg, self.n_iters * self.n_rounds, 0, -1)
            elif self.mode == "output":
                sets = []
                for h, text in enumerate(self.text):
                    self.set_weights(start)
                    self.optimizer = self.new_optimizer()
                    self._steps(images, text, self.n_iters * self.n_rounds, 0, h)
                    sets.append(self.get_weights())
                self.output_weights = sets
                self.set_weights(average_weights(sets))
            else:
                self._rounds(images, start)

    def _rounds(self, images: torch.Tensor, start: list) -> None:
        avg = start
        for m in range(self.n_rounds):
            snapshots = []
            if self.mode == "sequential":
                self.set_weights(avg)
            for h, text in enumerate(self.text):
                if self.mode == "parallel":
                    self.set_weights(avg)
                    if m == 0:  # the reference reloads the initial optimizer state in round 1 only
                        self.optimizer = self.new_optimizer()
                self._steps(images, text, self.n_iters, m, h)
                snapshots.append(self.get_weights())
            avg = average_weights(snapshots)
            self.averages.append(torch.cat([w.flatten() for w in avg]).cpu())
        self.set_weights(avg)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits with the adapted weights; in "output" mode the log of the mean of the H models' softmax."""
        if self.mode != "output" or self.output_weights is None:
            return super().logits(images)
        current = self.get_weights()
        probs = 0
        for weights in self.output_weights:
            self.set_weights(weights)
            probs = probs + super().logits(images).softmax(-1)
        self.set_weights(current)
        return (probs / len(self.output_weights)).log()
