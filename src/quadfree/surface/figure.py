"""Depth and normal maps side by side: ground truth | each model | its error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from quadfree.atomic import save_figure


def _normal_rgb(n: torch.Tensor) -> np.ndarray:
    """Normals ``(H, W, 3)`` → RGB in [0, 1] (white where none)."""
    none = n.norm(dim=-1) == 0
    rgb = (0.5 * (n + 1.0)).clamp(0, 1)
    rgb[none] = 1.0
    return rgb.numpy()


def depth_figure(target: str | Path, gt_depth: torch.Tensor, gt_normals: torch.Tensor,
                 rows: list[tuple[str, torch.Tensor, torch.Tensor]], title: str = "") -> None:
    """One view: row 1 depth (GT, each model, each |error|), row 2 normals (GT, each model,
    each angular error). ``rows``: ``(name, depth (H, W), normals (H, W, 3))``; depth 0 and
    zero normals mean no surface. Written atomically as PNG.

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "fig.png")
        >>> d, n = torch.ones(4, 4), torch.zeros(4, 4, 3)
        >>> depth_figure(f, d, n, [("taylor", d, n)]); os.path.getsize(f) > 0
        True
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    k = len(rows)
    fig, axes = plt.subplots(2, 1 + 2 * k, figsize=(2.4 * (1 + 2 * k), 5.0), squeeze=False)
    fg = gt_depth > 0
    lo = float(gt_depth[fg].min()) if fg.any() else 0.0
    hi = float(gt_depth[fg].max()) if fg.any() else 1.0
    masked = lambda d: np.ma.masked_where(d.numpy() <= 0, d.numpy())  # noqa: E731
    axes[0, 0].imshow(masked(gt_depth), cmap="viridis", vmin=lo, vmax=hi)
    axes[0, 0].set_title("GT depth")
    axes[1, 0].imshow(_normal_rgb(gt_normals))
    axes[1, 0].set_title("GT normals")
    span = max(hi - lo, 1e-9)
    for i, (name, d, n) in enumerate(rows):
        a, b = 1 + 2 * i, 2 + 2 * i
        axes[0, a].imshow(masked(d), cmap="viridis", vmin=lo, vmax=hi)
        axes[0, a].set_title(f"{name} depth")
        both = fg & (d > 0)
        err = torch.where(both, (d - gt_depth).abs() / span * 100, torch.zeros_like(d))
        im = axes[0, b].imshow(np.ma.masked_where(~both.numpy(), err.numpy()), cmap="magma",
                               vmin=0, vmax=5)
        axes[0, b].set_title(f"{name} |error| (% range)")
        fig.colorbar(im, ax=axes[0, b], fraction=0.046)
        axes[1, a].imshow(_normal_rgb(n))
        axes[1, a].set_title(f"{name} normals")
        ok = (gt_normals.norm(dim=-1) > 0) & (n.norm(dim=-1) > 0)
        ang = torch.rad2deg(torch.arccos((n * gt_normals).sum(-1).clamp(-1, 1)))
        im = axes[1, b].imshow(np.ma.masked_where(~ok.numpy(), ang.numpy()), cmap="magma",
                               vmin=0, vmax=30)
        axes[1, b].set_title(f"{name} angle (deg)")
        fig.colorbar(im, ax=axes[1, b], fraction=0.046)
    for ax in axes.ravel():
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, target, dpi=90)
    plt.close(fig)


def shading_figure(target: str | Path, gt_shading: torch.Tensor, shading: torch.Tensor,
                   gt_normals: torch.Tensor, normals: torch.Tensor, title: str = "") -> None:
    """Inverse rendering, one view: GT shading | predicted shading | |error| | GT normals |
    predicted normals. Shading ``(H, W)`` (NaN in ``gt_shading``: no target), normals
    ``(H, W, 3)`` (zero: no surface). Written atomically as PNG.

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "fig.png")
        >>> s, n = torch.ones(4, 4), torch.zeros(4, 4, 3)
        >>> shading_figure(f, s, s, n, n); os.path.getsize(f) > 0
        True
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 5, figsize=(12.0, 2.8))
    known = torch.isfinite(gt_shading)
    axes[0].imshow(np.ma.masked_where(~known.numpy(), gt_shading.numpy()), cmap="gray",
                   vmin=0, vmax=1)
    axes[0].set_title("GT shading")
    hit = normals.norm(dim=-1) > 0
    axes[1].imshow(np.ma.masked_where(~hit.numpy(), shading.numpy()), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("predicted shading")
    both = known & hit
    err = torch.where(both, (shading - torch.nan_to_num(gt_shading)).abs(),
                      torch.zeros_like(shading))
    im = axes[2].imshow(np.ma.masked_where(~both.numpy(), err.numpy()), cmap="magma",
                        vmin=0, vmax=0.3)
    axes[2].set_title("|shading error|")
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    axes[3].imshow(_normal_rgb(gt_normals))
    axes[3].set_title("GT normals")
    axes[4].imshow(_normal_rgb(normals))
    axes[4].set_title("predicted normals")
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, target, dpi=90)
    plt.close(fig)
