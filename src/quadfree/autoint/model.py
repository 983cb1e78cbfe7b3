"""`AutoInt`: an integral network Φ together with its grad network and integrals."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from quadfree.autoint.grad import GradNetwork
from quadfree.autoint.integrate import DEFAULT_CHUNK, box_integral, segment_integral
from quadfree.errors import QuadfreeError, check_finite
from quadfree.quadrature.rules import quadrature_segment_integral


class AutoInt(nn.Module):
    """Automatic integration: train ``self.grad`` on a signal, integrate with ``self.phi``.

    Args:
        phi: any torch module Φ: ``(..., d) -> (..., c)`` (smooth activations: its derivative
            is what gets trained).
        axes: coordinate(s) the grad network differentiates: one axis for 1-D integrals,
            two or three for area/volume integrals of boxes.
        direction: alternatively a direction vector v; the grad network is ∇Φ·v.

    Example:
        >>> from quadfree.fields import siren
        >>> from quadfree.autoint import fit
        >>> _ = torch.manual_seed(0)
        >>> model = AutoInt(siren(1, 1, hidden=16, depth=2), axes=0)
        >>> x = torch.linspace(-1, 1, 256)[:, None]
        >>> _ = fit(model.grad, x, torch.cos(3 * x), steps=200, lr=1e-3, progress=False)
        >>> exact = 2 * torch.sin(torch.tensor(3.0)) / 3
        >>> err = model.integrate(torch.tensor([-1.0]), torch.tensor([1.0])) - exact
        >>> bool(err.abs() < 1e-2)
        True
    """

    def __init__(self, phi: nn.Module, axes: Sequence[int] | int | None = None,
                 direction: torch.Tensor | Sequence[float] | None = None) -> None:
        super().__init__()
        if axes is None and direction is None:
            axes = (0,)
        self.phi = phi
        self.grad = GradNetwork(phi, axes=axes, direction=direction)

    @property
    def axes(self) -> tuple[int, ...]:
        return self.grad.axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Φ(x), the integral network. Shapes: ``(..., d) -> (..., c)``."""
        return self.phi(x)

    def integrate(self, a: torch.Tensor, b: torch.Tensor, chunk_size: int = DEFAULT_CHUNK,
                  differentiable: bool = False) -> torch.Tensor:
        """Integrals of the grad network along segments from ``a`` to ``b``: Φ(b) − Φ(a).

        With ``axes=(i,)`` the ends may differ only in coordinate i; with a direction v,
        ``b − a`` must be parallel to v and the result is ``∫_0^s f(a + τ v) dτ`` for
        ``b = a + s v``. 1-D inputs of shape ``(N,)`` are taken as ``(N, 1)``.

        Runs without autograd unless ``differentiable``; 10^7 intervals fit in memory because
        Φ is evaluated ``chunk_size`` rows at a time.

        Shapes: a, b ``(N, d)`` or ``(N,)`` → ``(N, c)``.

        Example:
            >>> model = AutoInt(nn.Linear(1, 1), axes=0)      # Φ affine: grad is constant
            >>> model.integrate(torch.zeros(3), torch.ones(3)).shape
            torch.Size([3, 1])
        """
        a, b, _ = self._segments(a, b)
        with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
            return segment_integral(self.phi, a, b, chunk_size)

    def integrate_box(self, lo: torch.Tensor, hi: torch.Tensor,
                      chunk_size: int = DEFAULT_CHUNK, differentiable: bool = False
                      ) -> torch.Tensor:
        """Integrals of the grad network (the mixed partial over ``axes``) over boxes.

        Inclusion–exclusion over the 2^k corners: k = 2 needs 4 evaluations of Φ, k = 3 needs 8.
        Coordinates outside ``axes`` must agree between ``lo`` and ``hi``.

        Shapes: lo, hi ``(N, d)`` → ``(N, c)``.

        Example:
            >>> model = AutoInt(nn.Linear(2, 1), axes=(0, 1))
            >>> model.integrate_box(torch.zeros(4, 2), torch.ones(4, 2)).shape
            torch.Size([4, 1])
        """
        lo, hi = self._as_points(lo, "lo"), self._as_points(hi, "hi")
        if lo.shape != hi.shape:
            raise QuadfreeError(f"box corners differ in shape: {tuple(lo.shape)} vs "
                                f"{tuple(hi.shape)}")
        if self.grad.direction is not None:
            raise QuadfreeError("a directional model has no box integrals: build it with axes")
        self._check_only_axes_differ(lo, hi)
        with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
            return box_integral(self.phi, lo, hi, self.axes, chunk_size)

    def integrate_quadrature(self, a: torch.Tensor, b: torch.Tensor, nodes: int,
                             chunk_size: int = DEFAULT_CHUNK) -> torch.Tensor:
        """The same segment integrals as :meth:`integrate`, by n-node Gauss–Legendre
        quadrature of the grad network (the sampling baseline; converges to Φ(b) − Φ(a)).

        Shapes: a, b ``(N, d)`` or ``(N,)`` → ``(N, c)``.

        Example:
            >>> model = AutoInt(nn.Linear(1, 1), axes=0)
            >>> a, b = torch.zeros(2), torch.ones(2)
            >>> bool(torch.allclose(model.integrate_quadrature(a, b, 3), model.integrate(a, b)))
            True
        """
        a, b, length = self._segments(a, b)
        with torch.no_grad():
            return quadrature_segment_integral(self.grad, a, b, nodes, length, chunk_size)

    def _segments(self, a: torch.Tensor, b: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validated segment ends ``(N, d)`` and each segment's parameter length ``(N,)``."""
        a, b = self._as_points(a, "a"), self._as_points(b, "b")
        if a.shape != b.shape:
            raise QuadfreeError(f"interval ends differ in shape: {tuple(a.shape)} vs "
                                f"{tuple(b.shape)}")
        if self.grad.direction is not None:
            self._check_parallel(b - a)
            return a, b, self.segment_parameter(a, b)
        if len(self.axes) != 1:
            raise QuadfreeError(f"this model integrates boxes over axes {self.axes}: "
                                "use integrate_box(lo, hi)")
        self._check_only_axes_differ(a, b)
        return a, b, b[:, self.axes[0]] - a[:, self.axes[0]]

    def _as_points(self, x: torch.Tensor, name: str) -> torch.Tensor:
        x = torch.as_tensor(x)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise QuadfreeError(f"{name}: expected shape (N, d) or (N,), got {tuple(x.shape)}")
        in_dim = getattr(self.phi, "in_dim", None)
        if isinstance(in_dim, int) and x.shape[1] != in_dim:
            raise QuadfreeError(f"{name}: points have {x.shape[1]} coordinate(s) but the "
                                f"integral network takes {in_dim}")
        check_finite(name, x)
        param = next(self.phi.parameters(), None)
        if param is not None:
            x = x.to(device=param.device, dtype=param.dtype)
        return x

    def _check_only_axes_differ(self, a: torch.Tensor, b: torch.Tensor) -> None:
        others = [i for i in range(a.shape[-1]) if i not in self.axes]
        if others and not torch.equal(a[:, others], b[:, others]):
            raise QuadfreeError(f"interval ends differ outside the integrated axes {self.axes}")

    def _check_parallel(self, delta: torch.Tensor) -> None:
        v = self.grad.direction.to(delta)
        residual = delta - (delta @ v)[:, None] * v / (v @ v)
        scale = delta.norm(dim=-1).clamp_min(1e-12)
        if (residual.norm(dim=-1) > 1e-5 * scale + 1e-7).any():
            raise QuadfreeError("segment b − a is not parallel to the model's direction")

    def segment_parameter(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """For a directional model, s such that ``b = a + s·v``. Shapes: ``(N, d) -> (N,)``."""
        v = self.grad.direction.to(a)
        return ((b - a) @ v) / (v @ v)
