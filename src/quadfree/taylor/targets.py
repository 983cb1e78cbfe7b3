"""A fixed target set: everything about the targets q that does not change between calls.

Full-batch fitting (e.g. ``quadfree sdf``) evaluates the explicit layer ``y = f(q; p, w)`` at
the SAME samples q in every epoch while p and w change. Two parts of each epoch depend on q
alone:

* the read-out (L2P) of the expansion at q: each target's finest cell and its basis values
  ``E_k(u)``;
* the backward pass's P2M of the incoming gradient ȳ inserted at q: the same cells and the
  same basis values (moments ``M_k(cell) = Σ_{q_m ∈ cell} ȳ_m E_k(u_m)``).

:class:`FixedTargets` computes them once (targets sorted by cell, basis ``(M, P)``) and
reuses them, so an epoch spends its time on the passes (M2M, M2L, L2L), not on the targets.
Results equal the uncached path (:meth:`FC2T2.expand`, :meth:`Expansion.evaluate`) to
rounding. :func:`value_and_gradient` reads f and ∇f at moving points (the sources) in one
gather instead of d + 1 separate evaluations.
"""

from __future__ import annotations

from math import sqrt

import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import passes
from quadfree.taylor.expansion import FC2T2, Expansion, check_points
from quadfree.taylor.multiindex import multi_indices

CHUNK = 1 << 15


class FixedTargets:
    """Targets ``q (M, d)`` prepared once for many kernel sums under one :class:`FC2T2`.

    Args:
        q: targets ``(M, d)`` in [−1, 1]^d (shared by every batch entry); not differentiable
            through this object (use a plain tensor when you need q̄).
        transform: the :class:`FC2T2` whose finest grid the targets are binned on.

    Memory: M·P numbers of q's dtype (P = 35 at ρ = 4 in 3-D) plus two index vectors.
    Pass it as ``q`` to :func:`quadfree.taylor.ops.kernel_sum` or
    :class:`quadfree.taylor.layers.KernelSum`; outputs keep the order of ``q``.

    Example:
        >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=2, order=4, dim=2)
        >>> q = torch.rand(30, 2, dtype=torch.float64) - 0.5
        >>> T = FixedTargets(q, S)
        >>> E = S.expand(torch.rand(1, 9, 2, dtype=torch.float64) - 0.5,
        ...              torch.ones(1, 1, 9, dtype=torch.float64))
        >>> bool(torch.allclose(T.evaluate(E), E.evaluate(q)))
        True
    """

    def __init__(self, q: torch.Tensor, transform: FC2T2) -> None:
        if not isinstance(transform, FC2T2):
            raise QuadfreeError(f"transform: expected an FC2T2, got {type(transform).__name__}")
        q = check_points("targets q", q, transform.dim, transform.clamp)
        if q.dim() != 2:
            raise QuadfreeError(f"targets q: shape {tuple(q.shape)} must be (M, "
                                f"{transform.dim}) for a fixed target set")
        if q.dtype not in (torch.float32, torch.float64):
            raise QuadfreeError(f"targets q: dtype {q.dtype}; use float32 or float64")
        self.transform = transform
        self.q = q.detach()
        n, order = transform.n, transform.order
        with torch.no_grad():
            idx, _ = passes.locate(self.q, n)
            cells, perm = torch.sort(passes.flat_index(idx, n), stable=True)
            _, u = passes.locate(self.q.index_select(0, perm), n)
            self.cells = cells                                         # (M,) sorted
            self.perm = perm                                           # sorted → original
            self.inverse = torch.empty_like(perm)
            self.inverse[perm] = torch.arange(len(perm), device=perm.device)
            self.basis = passes.basis_rows(u, order).t().contiguous()  # (M, P)

    def __len__(self) -> int:
        return self.q.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.q.dtype

    @property
    def device(self) -> torch.device:
        return self.q.device

    def check(self, transform: FC2T2, dtype: torch.dtype, device: torch.device) -> None:
        """Raise :class:`QuadfreeError` unless these targets fit ``transform``, dtype, device.

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=1, order=2, dim=2)
            >>> T = FixedTargets(torch.zeros(3, 2), S)
            >>> T.check(S, torch.float32, torch.device("cpu"))
            >>> T.check(S, torch.float64, torch.device("cpu"))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            quadfree.errors.QuadfreeError: targets q: prepared in torch.float32, but ...
        """
        if transform is not self.transform and (
                transform.n != self.transform.n or transform.order != self.transform.order
                or transform.dim != self.transform.dim):
            raise QuadfreeError("targets q: prepared for another transform (levels, order "
                                "or dimension differ)")
        if dtype != self.dtype:
            raise QuadfreeError(f"targets q: prepared in {self.dtype}, but the sources p are "
                                f"{dtype}")
        if device != self.device:
            raise QuadfreeError(f"targets q: prepared on {self.device}, but the sources p are "
                                f"on {device}")

    def evaluate(self, expansion: Expansion) -> torch.Tensor:
        """f(q) from an expansion: coefficients ``(B, C, n…, P)`` → ``(B, C, M)``, q's order.

        Not differentiable (the layer's backward uses :meth:`expand` instead).
        """
        c = expansion.coeffs
        B, C, P = c.shape[0], c.shape[1], c.shape[-1]
        n, d = self.transform.n, self.transform.dim
        if c.dim() != 3 + d or tuple(c.shape[2:-1]) != (n,) * d or P != self.basis.shape[1]:
            raise QuadfreeError(f"expansion: coefficients {tuple(c.shape)} do not fit targets "
                                f"prepared for a {'×'.join([str(n)] * d)} grid with "
                                f"{self.basis.shape[1]} coefficients per cell",
                                param="expansion")
        flat = c.reshape(B, C, -1, P).to(self.dtype)
        out = torch.empty(B, C, len(self), dtype=self.dtype, device=self.device)
        with torch.no_grad():
            for b in range(B):
                for ch in range(C):
                    table = flat[b, ch]                                 # (cells, P)
                    for s in range(0, len(self), CHUNK):
                        cell, E = self.cells[s: s + CHUNK], self.basis[s: s + CHUNK]
                        torch.sum(table.index_select(0, cell).mul_(E), 1,
                                  out=out[b, ch, s: s + CHUNK])
            return out.index_select(2, self.inverse)

    def moments(self, values: torch.Tensor) -> torch.Tensor:
        """P2M of ``values (B, C, M)`` inserted at the targets: rows ``(P, n^d, B·C)`` as
        :func:`quadfree.taylor.passes.p2m_rows` returns them (not differentiable)."""
        B, C, M = values.shape
        P = self.basis.shape[1]
        cells = self.transform.n ** self.transform.dim
        out = torch.zeros(B * C, cells, P, dtype=self.dtype, device=self.device)
        with torch.no_grad():
            v = values.to(self.dtype).reshape(B * C, M).index_select(1, self.perm)
            for r in range(B * C):
                for s in range(0, M, CHUNK):
                    E = self.basis[s: s + CHUNK]
                    out[r].index_add_(0, self.cells[s: s + CHUNK], E * v[r, s: s + CHUNK, None])
            return out.permute(2, 0, 1).contiguous().transpose(1, 2)

    def expand(self, values: torch.Tensor, transform: FC2T2 | None = None) -> Expansion:
        """The expansion of ``Σ_m φ(x − q_m) values[b, c, m]``: ``(B, C, M)`` → Expansion;
        the same as ``transform.expand(q, values)`` to rounding, without its P2M basis work.
        ``transform`` (default: the one the targets were prepared with) may be any transform
        with the same grid, order and dimension (:meth:`check`): the cached basis depends only
        on those, the passes (and so the kernel) are ``transform``'s.

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=2, order=4, dim=2)
            >>> q = torch.rand(40, 2, dtype=torch.float64) - 0.5
            >>> v = torch.rand(1, 2, 40, dtype=torch.float64)
            >>> a = FixedTargets(q, S).expand(v).coeffs
            >>> bool(torch.allclose(a, S.expand(q[None], v).coeffs))
            True
        """
        if values.dim() != 3 or values.shape[2] != len(self):
            raise QuadfreeError(f"values: shape {tuple(values.shape)} must be (B, C, "
                                f"{len(self)})")
        B, C = values.shape[:2]
        transform = self.transform if transform is None else transform
        self.check(transform, self.dtype, self.device)
        return transform.expand_moments(self.moments(values), B, C)


def _legendre_with_derivative(t: torch.Tensor, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal ``e_0..e_ρ`` and their derivatives at ``t``: ``(K,)`` → two ``(K, ρ+1)``."""
    vals, ders = [torch.ones_like(t), t], [torch.zeros_like(t), torch.ones_like(t)]
    for k in range(1, order):
        vals.append(((2 * k + 1) * t * vals[k] - k * vals[k - 1]) / (k + 1))
        ders.append(ders[k - 1] + (2 * k + 1) * vals[k])
    scale = torch.tensor([sqrt((2 * k + 1) / 2) for k in range(order + 1)], dtype=t.dtype,
                         device=t.device)
    return (torch.stack(vals[: order + 1], -1) * scale,
            torch.stack(ders[: order + 1], -1) * scale)


def value_and_gradient(expansion: Expansion, x: torch.Tensor) -> torch.Tensor:
    """f and ∇f at points ``x (M, d)`` or ``(B, M, d)`` → ``(B, C, M, 1 + d)`` (value first),
    in one gather per point; equals ``evaluate`` / ``gradient`` of the expansion to rounding.
    Not differentiable.

    Example:
        >>> S = FC2T2("exp(-8*(x**2+y**2))", levels=2, order=4, dim=2)
        >>> E = S.expand(torch.zeros(1, 1, 2), torch.ones(1, 1, 1))
        >>> x = torch.rand(6, 2) - 0.5
        >>> vg = value_and_gradient(E, x)
        >>> bool(torch.allclose(vg[..., 0], E.evaluate(x))), bool(torch.allclose(
        ...     vg[..., 1:], E.gradient(x), atol=1e-5))
        (True, True)
    """
    c = expansion.coeffs
    B, C, P, d, order, n = c.shape[0], c.shape[1], c.shape[-1], expansion.dim, \
        expansion.order, expansion.n
    x = check_points("query points", x, d, expansion.clamp)
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() != 3 or x.shape[0] not in (1, B):
        raise QuadfreeError(f"query points: shape {tuple(x.shape)} must be (M, {d}) or "
                            f"({B}, M, {d})")
    x = x.detach().to(device=c.device, dtype=c.dtype).expand(B, -1, -1)
    ki = torch.tensor(multi_indices(d, order), device=c.device)              # (P, d)
    flat = c.reshape(B, C, -1, P).permute(0, 2, 1, 3).reshape(B, -1, C * P)
    out = torch.empty(B, C, x.shape[1], 1 + d, dtype=c.dtype, device=c.device)
    with torch.no_grad():
        for b in range(B):
            for s in range(0, x.shape[1], CHUNK):
                idx, u = passes.locate(x[b, s: s + CHUNK], n)
                K = u.shape[0]
                rows = flat[b].index_select(0, passes.flat_index(idx, n)).view(K, C, P)
                vd = [_legendre_with_derivative(u[:, ax], order) for ax in range(d)]
                V = [v.index_select(1, ki[:, ax]) for ax, (v, _) in enumerate(vd)]  # (K, P)
                G = [g.index_select(1, ki[:, ax]) for ax, (_, g) in enumerate(vd)]
                # products of the other axes' values: E_k = V[ax]·others[ax] for every ax
                others = []
                for ax in range(d):
                    prod = None
                    for o in range(d):
                        if o != ax:
                            prod = V[o] if prod is None else prod * V[o]
                    others.append(prod)
                for ch in range(C):
                    rc = rows[:, ch]
                    for ax in range(d):
                        t = rc * others[ax]
                        if ax == 0:
                            out[b, ch, s: s + CHUNK, 0] = (t * V[0]).sum(1)
                        out[b, ch, s: s + CHUNK, 1 + ax] = (t * G[ax]).sum(1).mul_(n)
    return out
