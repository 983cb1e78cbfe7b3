"""Chunked rendering of many rays or whole images with any :class:`RayRenderer` (every
:class:`quadfree.radiance.RadianceMethod` is one).

Memory is bounded by ``chunk`` rays at a time; outputs are gathered on the CPU.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import torch
from tqdm.auto import tqdm

from quadfree.errors import QuadfreeError
from quadfree.render.rays import Camera, RayBundle

OUTPUT_KEYS = ("rgb", "depth", "acc")


@runtime_checkable
class RayRenderer(Protocol):
    """A model that renders rays: a :class:`torch.nn.Module` with ``render_rays``.

    ``render_rays(rays, training=False)`` returns at least ``"rgb" (R, 3)``, ``"depth" (R,)``
    and ``"acc" (R,)``; the renderer here never needs to know which method it is.
    """

    training: bool

    def render_rays(self, rays: RayBundle, *, training: bool) -> dict[str, torch.Tensor]: ...

    def parameters(self): ...

    def train(self, mode: bool = True): ...

    def eval(self): ...


@torch.no_grad()
def render_rays_chunked(method: RayRenderer, rays: RayBundle, *, chunk: int = 4096,
                        device: torch.device | str | None = None, progress: bool = False
                        ) -> dict[str, torch.Tensor]:
    """Render ``rays`` on the inference path, ``chunk`` rays at a time.

    Returns CPU tensors ``{"rgb": (R, 3), "depth": (R,), "acc": (R,)}``.

    Example:
        >>> from quadfree.radiance.registry import build_method
        >>> from quadfree.render.rays import camera_rays
        >>> m, _ = build_method("nerf", {"width": 16, "depth": 2, "skips": "", "n_coarse": 4,
        ...                                  "n_fine": 0})
        >>> out = render_rays_chunked(m, camera_rays(3, 3, 3.0, torch.eye(4)), chunk=4)
        >>> out["rgb"].shape
        torch.Size([9, 3])
    """
    if chunk < 1:
        raise QuadfreeError(f"chunk {chunk}: must be >= 1", param="chunk")
    if device is None:
        device = next(iter(method.parameters()), torch.empty(0)).device
    was_training = method.training
    method.eval()
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in OUTPUT_KEYS}
    try:
        starts = range(0, len(rays), chunk)
        for s in tqdm(starts, disable=not progress, leave=False, desc="render"):
            out = method.render_rays(rays[s:s + chunk].to(device), training=False)
            for k in OUTPUT_KEYS:
                parts[k].append(out[k].detach().float().cpu())
    finally:
        method.train(was_training)
    return {k: torch.cat(v, dim=0) for k, v in parts.items()}


def render_image(method: RayRenderer, camera: Camera, *, near: float = 2.0,
                 far: float = 6.0, chunk: int = 4096, device: torch.device | str | None = None,
                 progress: bool = False) -> dict[str, torch.Tensor]:
    """Render one full image: ``{"rgb": (H, W, 3), "depth": (H, W), "acc": (H, W),
    "seconds": float}`` (CPU tensors; rgb not clipped).

    Example:
        >>> from quadfree.radiance.registry import build_method
        >>> m, _ = build_method("nerf", {"width": 16, "depth": 2, "skips": "", "n_coarse": 4,
        ...                                  "n_fine": 0})
        >>> render_image(m, Camera(4, 5, 5.0, torch.eye(4)))["rgb"].shape
        torch.Size([4, 5, 3])
    """
    rays = camera.rays(near, far)
    if device is not None:
        dev = torch.device(device)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    start = time.perf_counter()
    out = render_rays_chunked(method, rays, chunk=chunk, device=device, progress=progress)
    seconds = time.perf_counter() - start
    h, w = camera.height, camera.width
    return {"rgb": out["rgb"].reshape(h, w, 3), "depth": out["depth"].reshape(h, w),
            "acc": out["acc"].reshape(h, w), "seconds": seconds}
