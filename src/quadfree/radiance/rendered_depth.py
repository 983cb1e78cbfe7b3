"""Surface depth maps rendered by a trained model, for datasets that ship none.

View consistency (:func:`quadfree.radiance.consistency.measure_view_consistency`) needs points
on the scene's surfaces. A procedural scene writes ground-truth depth maps; a captured dataset
has none. Then the surface a trained NeRF renders (its expected termination depth, where its
accumulated opacity is high) stands in for it: NeRF's density depends on position only, so its
surface is the same from every view.
"""

from __future__ import annotations

import dataclasses

import torch

from quadfree.radiance.base import RadianceMethod
from quadfree.render.image import render_image


@torch.no_grad()
def rendered_depths(method: RadianceMethod, split, *, min_acc: float = 0.5, chunk: int = 4096,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """Depth maps ``(N, H, W)`` of ``method`` on every view of ``split`` (a
    :class:`~quadfree.data.blender.BlenderSplit`): the expected depth divided by the
    accumulated opacity where that opacity is at least ``min_acc``, 0 (background) elsewhere.

    Example:
        >>> from quadfree.data.blender import BlenderSplit
        >>> from quadfree.radiance.registry import build_method
        >>> m, _ = build_method("nerf", {"width": 8, "depth": 1, "skips": "", "n_fine": 0})
        >>> split = BlenderSplit(torch.ones(1, 3, 3, 3), torch.eye(4)[None], 3, 3, 3.0,
        ...                      2.0, 6.0, 0.9)
        >>> rendered_depths(m, split, min_acc=0.0).shape
        torch.Size([1, 3, 3])
    """
    maps = []
    for i in range(len(split)):
        out = render_image(method, split.camera(i), near=split.near, far=split.far, chunk=chunk,
                           device=device)
        acc, depth = out["acc"], out["depth"]
        surface = (acc >= min_acc) & (acc > 0)
        maps.append(torch.where(surface, depth / acc.clamp_min(1e-6), torch.zeros_like(depth)))
    return torch.stack(maps).float()


def with_depths(split, depths: torch.Tensor):
    """A copy of ``split`` whose ``depths`` are ``depths`` ``(N, H, W)``.

    Example:
        >>> from quadfree.data.blender import BlenderSplit
        >>> s = BlenderSplit(torch.ones(1, 2, 2, 3), torch.eye(4)[None], 2, 2, 2.0, 2.0, 6.0, 0.9)
        >>> with_depths(s, torch.ones(1, 2, 2)).depths.shape
        torch.Size([1, 2, 2])
    """
    return dataclasses.replace(split, depths=depths)
