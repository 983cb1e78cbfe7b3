"""The interface every radiance-field method implements (NeRF, AutoInt, Taylor/TeRF).

The renderer, trainer, ``render`` and ``eval`` commands and benchmarks only talk to this
interface, so the methods can be measured side by side on identical rays.

Conventions: ``directions`` are unit vectors; ``near``/``far`` are distances along them
(Blender scenes: 2 and 6); colours are linear RGB in [0, 1] composited on a white background.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from quadfree.render.rays import RayBundle

__all__ = ["RadianceMethod", "RayBundle"]


class RadianceMethod(nn.Module, abc.ABC):
    """A radiance-field model that renders rays.

    Subclasses implement :meth:`render_rays` and :meth:`evals_per_ray`; :meth:`loss`
    defaults to the MSE of the ``"rgb"`` output (plus ``"rgb_coarse"`` when present).
    """

    name: str = "method"

    @abc.abstractmethod
    def render_rays(self, rays: RayBundle, *, training: bool) -> dict[str, torch.Tensor]:
        """Render a batch of rays.

        Returns a dict with at least ``"rgb"`` ``(R, 3)``, ``"depth"`` ``(R,)`` (expected
        termination distance) and ``"acc"`` ``(R,)`` (accumulated opacity). ``training`` selects
        the training path (e.g. stratified jitter for NeRF, grad networks for AutoInt); the
        inference path must be deterministic.
        """

    @abc.abstractmethod
    def evals_per_ray(self) -> int:
        """Network evaluations per ray on the inference path (counted per network query
        point; a query of two networks at one point counts two)."""

    def loss(self, outputs: dict[str, torch.Tensor], target_rgb: torch.Tensor) -> torch.Tensor:
        """Training loss for a batch. Shapes: ``target_rgb (R, 3)`` → scalar."""
        loss = nn.functional.mse_loss(outputs["rgb"], target_rgb)
        if "rgb_coarse" in outputs:
            loss = loss + nn.functional.mse_loss(outputs["rgb_coarse"], target_rgb)
        return loss
