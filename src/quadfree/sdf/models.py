"""SDF models: the explicit FC²T² layer (paper §4.3.3) and a DeepSDF-style MLP baseline.

Both map points ``(M, 3)`` in [−1, 1]³ to signed distances ``(M,)`` and are rebuilt from
their ``config()`` dict (saved in checkpoints).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2
from quadfree.taylor.layers import KernelSum
from quadfree.taylor.multiindex import num_coefficients
from quadfree.taylor.operators import cells_per_axis
from quadfree.taylor.targets import FixedTargets


class TaylorSDF(nn.Module):
    """``sdf(q) = g · Σ_n exp(−α|q − p_n|²) w_n`` with the explicit Taylor layer.

    Args:
        level: expansion level (``2^(level+1)`` cells per axis).
        alpha_h2: α·h² with h the finest cell width (the kernel width follows the grid).
        sources_per_cell: sources per cell and axis, on a regular grid at the start.
        learn_sources: also fit the source positions p (the paper fits p and w).
        order: expansion order ρ.

    The gain ``g`` is the inverse of the kernel's sum over the initial source grid, so the
    weights are in distance units (``w_n`` ≈ the SDF near ``p_n``).

    Example:
        >>> m = TaylorSDF(level=1, sources_per_cell=1, order=2)
        >>> m(torch.zeros(5, 3)).shape
        torch.Size([5])
    """

    kind = "taylor"

    def __init__(self, level: int = 4, alpha_h2: float = 0.5, sources_per_cell: int = 1,
                 learn_sources: bool = True, order: int = 4) -> None:
        super().__init__()
        if sources_per_cell < 1:
            raise QuadfreeError(f"sources_per_cell={sources_per_cell}: must be >= 1")
        if alpha_h2 <= 0:
            raise QuadfreeError(f"alpha_h2={alpha_h2}: must be > 0")
        self.level, self.alpha_h2, self.order = level, alpha_h2, order
        self.sources_per_cell, self.learn_sources = sources_per_cell, learn_sources
        n = cells_per_axis(level)
        h = 2.0 / n
        self.alpha = alpha_h2 / h**2
        transform = FC2T2(f"exp(-{self.alpha!r}*(x**2 + y**2 + z**2))", levels=level,
                          order=order)
        k = n * sources_per_cell
        t = -1.0 + (torch.arange(k, dtype=torch.float32) + 0.5) * (2.0 / k)
        grid = torch.stack(torch.meshgrid(t, t, t, indexing="ij"), -1).reshape(-1, 3)
        self.layer = KernelSum(transform, grid, channels=1, learn_sources=learn_sources)
        spacing = 2.0 / k
        self.gain = spacing**3 / (math.pi / self.alpha) ** 1.5

    @property
    def num_sources(self) -> int:
        return self.layer.p.shape[1]

    def config(self) -> dict:
        return {"model": "taylor", "level": self.level, "alpha_h2": self.alpha_h2,
                "sources_per_cell": self.sources_per_cell,
                "learn_sources": self.learn_sources, "order": self.order}

    def prepare(self, q: torch.Tensor) -> FixedTargets:
        """Training points ``(M, 3)`` prepared once for full-batch epochs (see
        :class:`~quadfree.taylor.targets.FixedTargets`); pass the result to :meth:`forward`.

        Example:
            >>> m = TaylorSDF(level=1, sources_per_cell=1, order=2)
            >>> q = torch.rand(5, 3) - 0.5
            >>> bool(torch.allclose(m(m.prepare(q)), m(q)))
            True
        """
        return self.layer.prepare(q)

    def forward(self, q: torch.Tensor | FixedTargets) -> torch.Tensor:
        return self.layer(q)[0, 0] * self.gain

    @torch.no_grad()
    def field(self, q: torch.Tensor) -> torch.Tensor:
        """SDF values without autograd (recycles the cached expansion); on q's device."""
        p = self.layer.p
        return (self.layer.evaluate(q.to(p.device, p.dtype))[0, 0] * self.gain).to(q.device)

    @torch.no_grad()
    def init_from_samples(self, q: torch.Tensor, d: torch.Tensor) -> None:
        """Start each weight at the distance of the training sample nearest to its source
        (the field is then a smoothed nearest-sample interpolant). q ``(M, 3)``, d ``(M,)``.

        Example:
            >>> m = TaylorSDF(level=1, sources_per_cell=1, order=2)
            >>> m.init_from_samples(torch.zeros(1, 3), torch.ones(1)); float(m.layer.w.mean())
            1.0
        """
        from scipy.spatial import cKDTree
        p = self.layer.p.detach()[0].cpu().double().numpy()
        _, idx = cKDTree(q.detach().cpu().double().numpy()).query(p)
        w = d.detach().cpu()[torch.from_numpy(idx)]
        self.layer.w.copy_(w.reshape(self.layer.w.shape).to(self.layer.w))

    def after_step(self) -> None:
        """Keep the sources inside the domain."""
        self.layer.clamp_sources_()

    def flops_per_epoch(self, samples: int) -> float:
        """Estimate of one full-batch epoch (forward and backward): two expansions.

        Counted per expansion: P2M ≈ 3P FLOPs per source, M2L 2·6³·P² per cell and level
        (general) or 3·2·6·P² (separable M2L, the one used for the Gaussian), M2M/L2L
        2·P² per cell and level; L2P ≈ 5P per point for a value and 5P more per partial.
        The forward evaluates values at the M samples; the backward reads 3 partials at the
        samples only if they need gradients (they do not), values + 3 partials at N sources.
        """
        P = num_coefficients(3, self.order)
        N = self.num_sources
        cells = sum(cells_per_axis(lev) ** 3 for lev in range(1, self.level + 1))
        sep = self.layer.transform.separable
        m2l = (3 * 2 * 6 if sep else 2 * 6**3) * P * P * cells
        passes = 2 * 2 * P * P * cells
        expand_p2m = lambda n: 3 * P * n  # noqa: E731
        forward = expand_p2m(N) + m2l + passes + 5 * P * samples
        backward = expand_p2m(samples) + m2l + passes + 5 * P * N * (1 + 3 * self.learn_sources)
        return float(forward + backward)


class MLPSDF(nn.Module):
    """DeepSDF-style MLP: ``depth`` ReLU layers of ``width`` with the input concatenated again
    at the middle layer (skip), linear output.

    DeepSDF uses 8 × 512 on a GPU; the CPU default is 8 × 128.

    Example:
        >>> MLPSDF(depth=4, width=16)(torch.zeros(5, 3)).shape
        torch.Size([5])
    """

    kind = "mlp"

    def __init__(self, depth: int = 8, width: int = 128) -> None:
        super().__init__()
        if depth < 2 or width < 1:
            raise QuadfreeError(f"mlp depth={depth}, width={width}: need depth >= 2, width >= 1")
        self.depth, self.width = depth, width
        self.skip = depth // 2
        layers = []
        for i in range(depth):
            fan_in = 3 if i == 0 else width
            out = width - 3 if i + 1 == self.skip else width
            layers.append(nn.Linear(fan_in, out))
        self.hidden = nn.ModuleList(layers)
        self.out = nn.Linear(width, 1)

    def config(self) -> dict:
        return {"model": "mlp", "depth": self.depth, "width": self.width}

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        h = q
        for i, lin in enumerate(self.hidden):
            if i == self.skip:
                h = torch.cat([h, q], -1)
            h = torch.relu(lin(h))
        return self.out(h)[:, 0]

    @torch.no_grad()
    def field(self, q: torch.Tensor) -> torch.Tensor:
        """SDF values without autograd; on q's device."""
        w = self.out.weight
        return self.forward(q.to(w.device, w.dtype)).to(q.device)

    def after_step(self) -> None:
        return None

    def flops_per_epoch(self, samples: int) -> float:
        """Forward 2·(weights) FLOPs per sample, backward twice that: 6·weights·samples."""
        weights = sum(m.weight.numel() for m in self.hidden) + self.out.weight.numel()
        return float(6 * weights * samples)


def build_model(config: dict) -> TaylorSDF | MLPSDF:
    """Rebuild a model from its ``config()`` dict.

    Example:
        >>> build_model({"model": "mlp", "depth": 2, "width": 8}).width
        8
    """
    cfg = dict(config)
    kind = cfg.pop("model", None)
    if kind == "taylor":
        return TaylorSDF(**cfg)
    if kind == "mlp":
        return MLPSDF(**cfg)
    raise QuadfreeError(f"model {kind!r}: choose taylor or mlp")
