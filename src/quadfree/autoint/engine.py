"""The AutoInt engine along rays: section means from differences of the antiderivative Φ."""

from __future__ import annotations

import torch

from quadfree.integrals import RayField, section_lengths


class AutoIntEngine:
    """Integrals of the grad network ∂Φ/∂t from its integral network Φ along rays.

    ``∫_{t_i}^{t_{i+1}} ∂Φ/∂t dt = Φ(t_{i+1}) − Φ(t_i)``: N+1 evaluations of Φ per ray for N
    sections, whatever the field looks like inside them.

    Args:
        phi: the integral network along rays (see :data:`quadfree.integrals.RayField`).
        min_length: sections shorter than this are divided by ``min_length`` (no 0/0).

    Example:
        >>> phi = lambda o, d, t: t[..., None] ** 2                  # Φ = t², f = 2t
        >>> e = AutoIntEngine(phi)
        >>> e.section_means(torch.zeros(1, 3), torch.ones(1, 3), torch.tensor([[0.0, 1.0, 3.0]]))
        tensor([[[1.],
                 [4.]]])
    """

    def __init__(self, phi: RayField, *, min_length: float = 1e-10) -> None:
        self.phi, self.min_length = phi, min_length

    def section_means(self, origins: torch.Tensor, directions: torch.Tensor,
                      edges: torch.Tensor) -> torch.Tensor:
        """``(Φ(t_{i+1}) − Φ(t_i)) / δ_i``. Shapes: edges ``(R, N+1)`` → ``(R, N, C)``."""
        phi = self.phi(origins, directions, edges)
        delta = section_lengths(edges).clamp_min(self.min_length)
        return (phi[:, 1:] - phi[:, :-1]) / delta[..., None]

    def segment_integrals(self, origins: torch.Tensor, directions: torch.Tensor,
                          a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``Φ(b) − Φ(a)`` per ray. Shapes: a, b ``(R,)`` → ``(R, C)``."""
        phi = self.phi(origins, directions, torch.stack([a, b], dim=-1))
        return phi[:, 1] - phi[:, 0]
