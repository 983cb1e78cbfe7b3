"""``torch.autograd.Function`` classes whose backward passes use FC²T² expansions (§4.1).

The explicit layer ``y = f(q; p, w)``, ``y[b, c, m] = Σ_n φ(q[b, m] − p[b, n]) w[b, c, n]``,
has the vector–Jacobian products (φ symmetric, so ∇φ is odd)

* ``q̄ = Σ_c ȳ_c ⊙ ∇f_c(q; p, w)`` — read from the forward expansion (recycled, no new one);
* ``w̄ = f(p; q, ȳ)`` and ``p̄ = Σ_c w_c ⊙ ∇f_c(p; q, ȳ)`` — from ONE expansion of the
  incoming gradient ȳ inserted at the targets q and read at the sources p.

So one training step costs two expansions. Kernels must be symmetric, φ(−r) = φ(r):
:class:`~quadfree.taylor.kernels.Kernel` rejects any other kernel when it is parsed, which is
what makes ``f(p; q, ȳ)`` the transpose of the forward sum. Shapes, dtypes and domains are
checked by :func:`quadfree.taylor.ops.kernel_sum`; use that, not this class, directly.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from quadfree.taylor.expansion import FC2T2, Expansion
from quadfree.taylor.targets import FixedTargets, value_and_gradient


def _batched(q: torch.Tensor, batch: int) -> torch.Tensor:
    return q if q.dim() == 3 else q.unsqueeze(0).expand(batch, -1, -1)


def _source_grads(back: Expansion, p: torch.Tensor, w: torch.Tensor, need_p: bool,
                  need_w: bool, sources: FixedTargets | None
                  ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """w̄ = f(p; q, ȳ) and p̄ = Σ_c w_c ∇f_c(p; q, ȳ) from the backward expansion ``back``
    (values and gradients read in one gather when both are needed; w̄ from the cached basis
    of ``sources``, p prepared as a fixed point set, when p needs no gradient)."""
    if not need_p:
        if not need_w:
            return None, None
        grad_w = back.evaluate(p) if sources is None else sources.evaluate(back)
        return None, grad_w.to(w.dtype)
    vg = value_and_gradient(back, p)                                  # (B, C, N, 1 + d)
    grad_p = torch.einsum("bcn,bcnd->bnd", w.to(p.dtype), vg[..., 1:])
    return grad_p, vg[..., 0].to(w.dtype) if need_w else None


def _forward_expansion(p: torch.Tensor, w: torch.Tensor, transform: FC2T2,
                       expansion: Expansion | None, sources: FixedTargets | None) -> Expansion:
    if expansion is not None:
        return expansion
    if sources is not None:                  # fixed sources: P2M from their cached basis
        return sources.expand(w.detach().to(p.dtype), transform)
    return transform.expand(p, w)


class KernelSumFunction(torch.autograd.Function):
    """``y = f(q; p, w)`` with the expansion-based backward of §4.1.

    ``apply(p, w, q, transform, expansion[, sources])``: p ``(B, N, d)``, w ``(B, C, N)``,
    q ``(M, d)`` (shared by the batch) or ``(B, M, d)``, ``transform`` an :class:`FC2T2`,
    ``expansion`` an :class:`Expansion` of ``(p, w)`` already built by ``transform`` or None
    (then the forward builds it), ``sources`` optionally p (B = 1) prepared as a
    :class:`FixedTargets` (fixed sources: P2M and the w̄ read-out reuse its basis). Returns
    y ``(B, C, M)``. The backward is not itself differentiable (no double backward).

    Example:
        >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=2, order=4, dim=2)
        >>> p = torch.zeros(1, 1, 2, requires_grad=True); w = torch.ones(1, 1, 1)
        >>> y = KernelSumFunction.apply(p, w, torch.tensor([[0.1, 0.0]]), S, None)
        >>> y.sum().backward(); p.grad.shape
        torch.Size([1, 1, 2])
    """

    @staticmethod
    def forward(ctx, p: torch.Tensor, w: torch.Tensor, q: torch.Tensor, transform: FC2T2,
                expansion: Expansion | None, sources: FixedTargets | None = None
                ) -> torch.Tensor:
        E = _forward_expansion(p, w, transform, expansion, sources)
        ctx.transform, ctx.expansion, ctx.sources = transform, E, sources
        ctx.save_for_backward(p, w, q)
        return E.evaluate(q).to(p.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: torch.Tensor):
        p, w, q = ctx.saved_tensors
        need_p, need_w, need_q = ctx.needs_input_grad[:3]
        grad_y = grad_y.to(p.dtype)
        grad_p = grad_w = grad_q = None
        if need_q:
            # q̄ = Σ_c ȳ_c ∇f_c(q): the forward expansion, recycled
            grad_q = torch.einsum("bcm,bcmd->bmd", grad_y, ctx.expansion.gradient(q))
            if q.dim() == 2:
                grad_q = grad_q.sum(0)
            grad_q = grad_q.to(q.dtype)
        if need_p or need_w:
            # one expansion of ȳ at the targets, read at the sources
            back = ctx.transform.expand(_batched(q, p.shape[0]).to(p.dtype), grad_y)
            grad_p, grad_w = _source_grads(back, p, w, need_p, need_w, ctx.sources)
        return (grad_p, grad_w, grad_q, None, None, None)[:len(ctx.needs_input_grad)]


class FixedTargetsSumFunction(torch.autograd.Function):
    """``y = f(q; p, w)`` at a :class:`~quadfree.taylor.targets.FixedTargets` set.

    ``apply(p, w, targets, transform, expansion[, sources])`` as :class:`KernelSumFunction`,
    with the targets prepared once: the forward reads the expansion with the cached cells and basis,
    the backward inserts ȳ with the cached P2M basis. Same results to rounding; no q̄ (the
    targets are constants). Returns y ``(B, C, M)`` in the targets' order.

    Example:
        >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=2, order=4, dim=2)
        >>> T = FixedTargets(torch.tensor([[0.1, 0.0]]), S)
        >>> p = torch.zeros(1, 1, 2, requires_grad=True); w = torch.ones(1, 1, 1)
        >>> FixedTargetsSumFunction.apply(p, w, T, S, None).sum().backward(); p.grad.shape
        torch.Size([1, 1, 2])
    """

    @staticmethod
    def forward(ctx, p: torch.Tensor, w: torch.Tensor, targets: FixedTargets,
                transform: FC2T2, expansion: Expansion | None,
                sources: FixedTargets | None = None) -> torch.Tensor:
        E = _forward_expansion(p, w, transform, expansion, sources)
        ctx.targets, ctx.sources, ctx.transform = targets, sources, transform
        ctx.save_for_backward(p, w)
        return targets.evaluate(E).to(p.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: torch.Tensor):
        p, w = ctx.saved_tensors
        need_p, need_w = ctx.needs_input_grad[:2]
        grad_p = grad_w = None
        if need_p or need_w:
            back = ctx.targets.expand(grad_y.to(p.dtype), ctx.transform)  # ȳ at q, cached P2M
            grad_p, grad_w = _source_grads(back, p, w, need_p, need_w, ctx.sources)
        return (grad_p, grad_w, None, None, None, None)[:len(ctx.needs_input_grad)]
