"""Exact kernel sums ``y_m = Σ_n φ(q_m − p_n) w_n`` by blocked dense torch (the reference).

Memory stays bounded and cache-friendly: blocks of ``target_block`` targets meet blocks of
``source_block`` sources. For an isotropic Gaussian ``exp(−α|r|²)`` the exponent of a block
comes from one small matmul (``2α q·p − α|q|² − α|p|²``), the fastest dense formulation in
torch; the exponent is clamped at the smallest normal float (−87 in float32, −700 in
float64) because subnormal results make ``exp`` an order of magnitude slower — this changes
each term by less than 2e-38 (float32). Other kernels are evaluated elementwise from their
sympy expression.
"""

from __future__ import annotations

import torch

from quadfree.taylor.kernels import Kernel


def exact_sum(kernel: Kernel | str, p: torch.Tensor, w: torch.Tensor, q: torch.Tensor,
              target_block: int = 128, source_block: int = 8192) -> torch.Tensor:
    """Dense exact sum. p ``(B, N, d)``, w ``(B, C, N)``, q ``(M, d)`` or ``(B, M, d)`` →
    ``(B, C, M)``.

    Example:
        >>> p = torch.zeros(1, 2, 2); w = torch.ones(1, 1, 2)
        >>> exact_sum("exp(-(x**2+y**2))", p, w, torch.zeros(3, 2)).tolist()
        [[[2.0, 2.0, 2.0]]]
    """
    if not isinstance(kernel, Kernel):
        kernel = Kernel.parse(kernel, p.shape[-1])
    B, N, d = p.shape
    if q.dim() == 2:
        q = q.unsqueeze(0).expand(B, -1, -1)
    w = w.to(device=p.device, dtype=p.dtype)
    q = q.to(device=p.device, dtype=p.dtype)
    alpha = kernel.gaussian_alpha
    lowest = -87.0 if p.dtype == torch.float32 else -700.0
    out = []
    for b in range(B):
        pb, wb = p[b], w[b].T.contiguous()                              # (N, d), (N, C)
        if alpha is not None:
            pa = torch.cat([pb, torch.ones_like(pb[:, :1]), (pb * pb).sum(1, keepdim=True)], 1)
        rows = []
        for qc in q[b].split(target_block):
            acc = torch.zeros(qc.shape[0], wb.shape[1], dtype=p.dtype, device=p.device)
            if alpha is not None:
                qa = torch.cat([2 * alpha * qc, -alpha * (qc * qc).sum(1, keepdim=True),
                                torch.full_like(qc[:, :1], -alpha)], 1)
            for s in range(0, N, source_block):
                if alpha is not None:
                    K = (qa @ pa[s: s + source_block].T).clamp_(lowest, 0.0).exp_()
                else:
                    K = kernel.torch_fn(qc[:, None, :] - pb[None, s: s + source_block, :])
                acc.addmm_(K, wb[s: s + source_block])
            rows.append(acc)
        out.append(torch.cat(rows, 0).T)
    return torch.stack(out, 0)
