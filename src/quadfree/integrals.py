"""The engine protocol: integrals of a field along rays, whoever computes them.

Every application asks one question: *what is the integral of a field along a line?* A volume
renderer wants per-section means of density and colour along each ray; tomography wants line
integrals. Three engines answer, behind the two methods of :class:`IntegralEngine`:

* :class:`quadfree.quadrature.QuadratureEngine` (the reference): samples the field itself
  (midpoint, stratified or Gauss–Legendre nodes inside each section).
* :class:`quadfree.autoint.AutoIntEngine`: differences a learned antiderivative,
  ``(Φ(t_{i+1}) − Φ(t_i)) / δ_i``: N+1 evaluations for N sections, no samples inside.
* Taylor (FC²T²) plugs in here: an object with the same two methods, built from an
  :class:`quadfree.taylor.Expansion` whose per-cell polynomials are integrated exactly along
  each ray segment (the line-integral layer of a later issue). Nothing above this protocol
  changes when it lands: ``render.volume.render_sections`` takes any engine.

A *ray field* is the callable an engine integrates, nerfacc style: the model is passed in, the
engine never knows what it is.

    ``field(origins (R, 3), directions (R, 3), t (R, S)) -> values (R, S, C)``

is the field at the points ``origins + t·directions``. For quadrature it is the integrand; for
AutoInt it is the antiderivative Φ along the ray.

Example:
    >>> import torch
    >>> from quadfree.quadrature import QuadratureEngine
    >>> f = lambda o, d, t: (o[:, None, :1] + t[..., None] * d[:, None, :1]) ** 2   # x²
    >>> engine = QuadratureEngine(f, rule="gauss", nodes=2)
    >>> isinstance(engine, IntegralEngine)
    True
    >>> o, d = torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 0.0]])
    >>> engine.segment_integrals(o, d, torch.tensor([0.0]), torch.tensor([3.0]))   # ∫_0^3 x²
    tensor([[9.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch

RayField = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""``(origins (R, 3), directions (R, 3), t (R, S)) -> (R, S, C)``: a field along rays."""


@runtime_checkable
class IntegralEngine(Protocol):
    """What every integration engine answers (quadrature, AutoInt, Taylor).

    Shapes: origins, directions ``(R, 3)``; edges ``(R, N+1)`` non-decreasing distances along
    the directions; a, b ``(R,)``.
    """

    def section_means(self, origins: torch.Tensor, directions: torch.Tensor,
                      edges: torch.Tensor) -> torch.Tensor:
        """Mean of the field over each section ``[edges_i, edges_{i+1}]``: ``(R, N, C)``."""
        ...

    def segment_integrals(self, origins: torch.Tensor, directions: torch.Tensor,
                          a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``∫_a^b field(o + t·d) dt`` per ray: ``(R, C)``."""
        ...


def section_lengths(edges: torch.Tensor) -> torch.Tensor:
    """``δ_i = edges_{i+1} − edges_i``. Shapes: ``(R, N+1) -> (R, N)``.

    Example:
        >>> section_lengths(torch.tensor([[2.0, 3.0, 6.0]]))
        tensor([[1., 3.]])
    """
    return edges[..., 1:] - edges[..., :-1]


def segment_edges(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """One section per ray from ``a`` to ``b``. Shapes: ``(R,), (R,) -> (R, 2)``.

    Example:
        >>> segment_edges(torch.tensor([0.0]), torch.tensor([2.0]))
        tensor([[0., 2.]])
    """
    return torch.stack([a, b], dim=-1)
