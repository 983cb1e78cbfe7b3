"""The reference engine along rays: per-section means from samples of the field itself."""

from __future__ import annotations

import torch

from quadfree.errors import QuadfreeError
from quadfree.integrals import RayField, section_lengths, segment_edges
from quadfree.quadrature.rules import gauss_legendre

RULES = ("midpoint", "stratified", "gauss")


def section_nodes(edges: torch.Tensor, k: int, rule: str = "midpoint",
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """K nodes inside every section, as fractions placed by ``rule``.

    ``midpoint``: ``t_i + (j + ½)/K·δ_i``; ``stratified``: ``t_i + (j + ξ)/K·δ_i`` with
    ξ ~ U(0, 1) per node (jittered, for training); ``gauss``: the K Gauss–Legendre nodes.

    Shapes: edges ``(R, N+1)`` → ``(R, N, K)``.

    Example:
        >>> section_nodes(torch.tensor([[0.0, 2.0, 4.0]]), 2)
        tensor([[[0.5000, 1.5000],
                 [2.5000, 3.5000]]])
    """
    if k < 1:
        raise QuadfreeError(f"nodes {k}: need at least 1 per section")
    if rule not in RULES:
        raise QuadfreeError(f"rule {rule!r}: choose from {RULES}")
    r, n = edges.shape[0], edges.shape[1] - 1
    kw = {"device": edges.device, "dtype": edges.dtype}
    if rule == "gauss":
        x, _ = gauss_legendre(k, **kw)
        u = ((x + 1) / 2).expand(r, n, k)
    else:
        j = torch.arange(k, **kw)
        xi = (torch.rand(r, n, k, generator=generator, **kw) if rule == "stratified"
              else torch.full((r, n, k), 0.5, **kw))
        u = (j + xi) / k
    return edges[:, :-1, None] + u * section_lengths(edges)[..., None]


class QuadratureEngine:
    """Section means and segment integrals of ``field`` by sampling it inside each section.

    Args:
        field: the integrand along rays (see :data:`quadfree.integrals.RayField`).
        rule: ``midpoint``, ``stratified`` (jittered) or ``gauss`` (weights of the rule).
        nodes: K, nodes per section.
        at: fixed sample positions ``(R, N, K)`` to use instead of a rule (equal weights);
            NeRF passes its stratified/hierarchical samples here.

    Example:
        >>> f = lambda o, d, t: t[..., None] * 2.0                 # f(t) = 2t
        >>> e = QuadratureEngine(f, rule="gauss", nodes=1)
        >>> e.section_means(torch.zeros(1, 3), torch.ones(1, 3), torch.tensor([[0.0, 1.0, 3.0]]))
        tensor([[[1.],
                 [4.]]])
    """

    def __init__(self, field: RayField, *, rule: str = "midpoint", nodes: int = 1,
                 at: torch.Tensor | None = None) -> None:
        if rule not in RULES:
            raise QuadfreeError(f"rule {rule!r}: choose from {RULES}")
        if nodes < 1:
            raise QuadfreeError(f"nodes {nodes}: need at least 1 per section")
        self.field, self.rule, self.nodes, self.at = field, rule, nodes, at

    def section_means(self, origins: torch.Tensor, directions: torch.Tensor,
                      edges: torch.Tensor) -> torch.Tensor:
        """Mean of the field over each section. Shapes: edges ``(R, N+1)`` → ``(R, N, C)``."""
        t = self.at if self.at is not None else section_nodes(edges, self.nodes, self.rule)
        r, n, k = t.shape
        values = self.field(origins, directions, t.reshape(r, n * k))
        values = values.reshape(r, n, k, values.shape[-1])
        if self.at is None and self.rule == "gauss":
            _, w = gauss_legendre(k, dtype=values.dtype, device=values.device)
            return torch.einsum("k,rnkc->rnc", w / 2, values)
        return values.mean(dim=-2)

    def segment_integrals(self, origins: torch.Tensor, directions: torch.Tensor,
                          a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``∫_a^b field dt`` per ray. Shapes: a, b ``(R,)`` → ``(R, C)``."""
        means = self.section_means(origins, directions, segment_edges(a, b))
        return means[:, 0] * (b - a)[:, None]
