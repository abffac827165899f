"""`SimplexModel`: a network whose weights are a point phi = sum_j alpha_j v_j of a simplex of vertices v_0..v_k.

v_0 is a trained network (frozen); SPRO adds vertices one at a time, each initialised at the centroid of the
existing ones, with every earlier vertex frozen. A forward pass draws alpha ~ Dirichlet(1) (uniform on the simplex)
unless alpha is given. Only parameters live on the simplex: BatchNorm running statistics belong to the base network
and must be recomputed for every point before evaluation (``lsdl_ens.bn.update_bn``; `simplex_predict` does it).

Reference: g-benton/loss-surface-simplexes@0f55807: simplex/models/simplex_models.py (``SimplexNet.add_vert``,
``vertex_weights``, ``total_volume``). Deviation: any architecture (``torch.func.functional_call`` on the point's
parameters) instead of hand-written simplex layers; vertices stored per parameter name.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .. import checks
from ..state import check_compatible, parameter_keys
from .volume import cayley_menger_volume, dirichlet_weights

__all__ = ["SimplexModel"]


class SimplexModel(nn.Module):
    """A simplex of networks sharing one architecture.

    Args:
        base_model: the architecture (deep-copied; its buffers serve every point until ``update_bn``).
        base_state: the state of v_0 (default: ``base_model``'s own state).
        seed: seeds the generator that ``forward`` draws alpha from.
    """

    def __init__(self, base_model: nn.Module, base_state: dict | None = None, seed: int = 0):
        super().__init__()
        checks.module("base_model", base_model, "pass the architecture (a model); its state goes in base_state")
        self.base = copy.deepcopy(base_model)
        if base_state is not None:
            check_compatible([self.base.state_dict(), base_state], ["base_model", "base_state"])
            self.base.load_state_dict(base_state)
        self.base.requires_grad_(False)
        self.param_names = parameter_keys(self.base)
        params = dict(self.base.named_parameters())
        self.vertices = nn.ModuleList([nn.ParameterList(
            [nn.Parameter(params[k].detach().clone(), requires_grad=False) for k in self.param_names])])
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    def vertex(self, j: int) -> dict[str, Tensor]:
        """Vertex j as {parameter name: tensor}."""
        return dict(zip(self.param_names, self.vertices[j]))

    def add_vertex(self, init: str = "centroid") -> int:
        """Freeze every existing vertex and append a trainable one at their centroid (``init="centroid"``) or a
        copy of v_0 (``"base"``). Returns the new vertex's index."""
        if init not in ("centroid", "base"):
            raise ValueError(f"init must be 'centroid' or 'base'; got {init!r}")
        for v in self.vertices:
            v.requires_grad_(False)
        n = self.n_vertices
        new = []
        for i in range(len(self.param_names)):
            value = self.vertices[0][i].detach().clone() if init == "base" else \
                sum(self.vertices[j][i].detach() for j in range(n)) / n
            new.append(nn.Parameter(value.clone(), requires_grad=True))
        self.vertices.append(nn.ParameterList(new))
        return n

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters of the trainable vertex (give only these to the optimiser)."""
        return [p for p in self.vertices.parameters() if p.requires_grad]

    def sample_point(self, generator: torch.Generator | None = None) -> Tensor:
        """alpha ~ Dirichlet(1) over the vertices [n_vertices] (float64)."""
        return dirichlet_weights(self.n_vertices, generator=generator or self.generator)

    def params_at(self, alpha) -> dict[str, Tensor]:
        """phi = sum_j alpha_j v_j per parameter (differentiable w.r.t. the trainable vertex)."""
        alpha = torch.as_tensor(alpha, dtype=torch.float64)
        if alpha.shape != (self.n_vertices,) or (alpha < -1e-9).any() or abs(float(alpha.sum()) - 1) > 1e-6:
            raise ValueError(f"alpha must be {self.n_vertices} non-negative weights summing to 1; got "
                             f"{alpha.tolist()}")
        out = {}
        for i, name in enumerate(self.param_names):
            first = self.vertices[0][i]
            a = alpha.to(device=first.device, dtype=first.dtype)
            value = a[0] * first
            for j in range(1, self.n_vertices):
                value = value + a[j] * self.vertices[j][i]
            out[name] = value
        return out

    def forward(self, x: Tensor, alpha=None) -> Tensor:
        """Logits of the network at alpha (drawn from Dirichlet(1) when None)."""
        alpha = self.sample_point() if alpha is None else alpha
        return functional_call(self.base, self.params_at(alpha), (x,))

    @torch.no_grad()
    def state_at(self, alpha) -> dict[str, Tensor]:
        """A full state dict of the base architecture at alpha; buffers are the base network's (run
        ``update_bn`` after loading it into a BN model)."""
        state = {k: v.detach().clone() for k, v in self.base.state_dict().items()}
        state.update({k: v.detach().clone() for k, v in self.params_at(alpha).items()})
        return state

    def flat_vertices(self) -> Tensor:
        """[n_vertices, P] matrix of flattened vertices (differentiable w.r.t. the trainable one)."""
        return torch.stack([torch.cat([p.reshape(-1) for p in v]) for v in self.vertices])

    def volume(self, squared: bool = True, log: bool = False) -> Tensor:
        """Cayley-Menger volume of the simplex (see ``cayley_menger_volume``)."""
        return cayley_menger_volume(self.flat_vertices(), squared=squared, log=log)
