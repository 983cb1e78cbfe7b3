"""Functional API of the Taylor layers: shapes and checks in front of the autograd Functions.

``kernel_sum(p, w, q, transform)`` is the explicit layer of FC²T² §4: ``y = f(q; p, w)``,
differentiable in p, w and q, with backward passes made of expansions (see
:mod:`quadfree.taylor.functions`).
"""

from __future__ import annotations

import torch

from quadfree.errors import QuadfreeError, check_finite
from quadfree.taylor.expansion import FC2T2, Expansion, check_points
from quadfree.taylor.functions import FixedTargetsSumFunction, KernelSumFunction
from quadfree.taylor.targets import FixedTargets


def check_sum_inputs(p: torch.Tensor, w: torch.Tensor, q: torch.Tensor | FixedTargets,
                     transform: FC2T2) -> None:
    """Raise :class:`QuadfreeError` naming the input when p, w, q do not fit together.

    p ``(B, N, d)``, w ``(B, C, N)``, q ``(M, d)`` or ``(B, M, d)`` (or a
    :class:`FixedTargets` prepared for this transform, dtype and device), d =
    ``transform.dim``, floating point, finite, and (unless the transform clamps) inside
    [−1, 1]^d.

    Example:
        >>> S = FC2T2("exp(-9*(x**2+y**2))", levels=1, order=2, dim=2)
        >>> check_sum_inputs(torch.zeros(1, 3, 2), torch.zeros(1, 1, 3), torch.zeros(4, 2), S)
    """
    if not isinstance(transform, FC2T2):
        raise QuadfreeError(f"transform: expected an FC2T2, got {type(transform).__name__}")
    d = transform.dim
    check_points("sources p", p, d, transform.clamp)
    if isinstance(q, FixedTargets):              # checked when prepared
        q.check(transform, p.dtype, p.device)
        q = q.q
    else:
        check_points("targets q", q, d, transform.clamp)
    if p.dim() != 3:
        raise QuadfreeError(f"sources p: shape {tuple(p.shape)} must be (B, N, {d})")
    if p.dtype not in (torch.float32, torch.float64):
        raise QuadfreeError(f"sources p: dtype {p.dtype}; use float32 or float64")
    B, N = p.shape[:2]
    if not isinstance(w, torch.Tensor) or w.dim() != 3 or w.shape[0] != B or w.shape[2] != N:
        shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise QuadfreeError(f"weights w: shape {shape} must be ({B}, C, {N}) to match "
                            f"sources p {tuple(p.shape)}")
    if not w.is_floating_point():
        raise QuadfreeError(f"weights w: dtype {w.dtype} is not floating point")
    check_finite("weights w", w)
    if q.dim() not in (2, 3) or (q.dim() == 3 and q.shape[0] != B):
        raise QuadfreeError(f"targets q: shape {tuple(q.shape)} must be (M, {d}) or "
                            f"({B}, M, {d})")
    if q.device != p.device or w.device != p.device:
        raise QuadfreeError(f"targets q, weights w: devices {q.device}, {w.device} differ "
                            f"from sources p on {p.device}")


def kernel_sum(p: torch.Tensor, w: torch.Tensor, q: torch.Tensor | FixedTargets,
               transform: FC2T2, expansion: Expansion | None = None,
               sources: FixedTargets | None = None) -> torch.Tensor:
    """The explicit Taylor layer ``y[b, c, m] = Σ_n φ(q[b, m] − p[b, n]) w[b, c, n]``.

    Args:
        p: sources ``(B, N, d)`` in [−1, 1]^d.
        w: weights ``(B, C, N)`` (C channels).
        q: targets ``(M, d)`` shared by the batch, or ``(B, M, d)``; or a
            :class:`~quadfree.taylor.targets.FixedTargets` (targets prepared once: the
            read-out and the backward's insertion of ȳ reuse their cells and basis; same
            results, no gradient for q).
        transform: the :class:`FC2T2` (kernel φ, levels, order) that approximates the sum.
        expansion: ``transform.expand(p, w)`` if you already have it (expansion recycling:
            evaluating the same (p, w) at new targets then costs no new expansion).
        sources: fixed sources (p with B = 1, not needing gradients) prepared as a
            ``FixedTargets(p[0], transform)``: the P2M of w and the read-out of w̄ reuse
            their cells and basis.

    Returns:
        y ``(B, C, M)``, differentiable in p, w and q. The backward pass costs one further
        expansion when p or w need gradients and none when only q does.

    Example:
        >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=2, order=4, dim=2)
        >>> p = (torch.rand(1, 50, 2) - 0.5).requires_grad_()
        >>> w = torch.rand(1, 3, 50, requires_grad=True)
        >>> y = kernel_sum(p, w, torch.rand(10, 2) - 0.5, S)
        >>> y.shape
        torch.Size([1, 3, 10])
        >>> y.square().sum().backward(); p.grad.shape, w.grad.shape
        (torch.Size([1, 50, 2]), torch.Size([1, 3, 50]))
        >>> T = FixedTargets(torch.rand(10, 2) - 0.5, S)    # reused by every call
        >>> kernel_sum(p, w, T, S).shape
        torch.Size([1, 3, 10])
    """
    check_sum_inputs(p, w, q, transform)
    if expansion is not None:
        want = (p.shape[0], w.shape[1]) + (transform.n,) * transform.dim
        if not isinstance(expansion, Expansion) or tuple(expansion.coeffs.shape[:-1]) != want:
            raise QuadfreeError(f"expansion: does not belong to sources p {tuple(p.shape)} "
                                f"and weights w {tuple(w.shape)} under this transform")
    if sources is not None:
        if not isinstance(sources, FixedTargets):
            raise QuadfreeError(f"sources: expected a FixedTargets, got "
                                f"{type(sources).__name__}")
        sources.check(transform, p.dtype, p.device)
        if p.requires_grad or p.shape[0] != 1 or not torch.equal(
                sources.q, check_points("sources p", p[0].detach(), transform.dim,
                                        transform.clamp)):
            raise QuadfreeError("sources: must be the sources p (batch 1, no gradient) "
                                "prepared as FixedTargets(p[0], transform)")
    if isinstance(q, FixedTargets):
        return FixedTargetsSumFunction.apply(p, w, q, transform, expansion, sources)
    return KernelSumFunction.apply(p, w, q, transform, expansion, sources)
