"""The one evaluation loop: render views with one or more methods, score and time them.

Speed claims are ratios measured in one process: every test view is rendered by every method in
turn (interleaved), so a busy machine slows all methods alike; seconds per frame is the median
over views. Used by ``quadfree demo``, ``quadfree bench autoint`` and (one method, no
warm-up) ``quadfree eval`` through :func:`quadfree.apps.runs.evaluate_method`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from quadfree.atomic import save_figure
from quadfree.data.blender import BlenderSplit
from quadfree.metrics import psnr, ssim
from quadfree.radiance.base import RadianceMethod
from quadfree.render.image import render_image
from quadfree.render.rays import Camera


def compare_methods(methods: dict[str, RadianceMethod], views: BlenderSplit, *,
                    baseline: str | None = None, max_views: int | None = None,
                    warmup: bool = True, chunk: int = 4096,
                    device: torch.device | str = "cpu", progress: bool = True,
                    keep_images: int = 0,
                    on_prediction: Callable[[str, int, torch.Tensor], None] | None = None
                    ) -> dict[str, Any]:
    """Render every view with every method (interleaved) and score it.

    Args:
        methods: label → trained method (labels appear in the rows).
        views: the test split (images composited on white).
        baseline: label whose seconds per frame define ``speedup`` (default: the first).
        max_views: only the first N views (at least 3 are needed for a median of 3).
        warmup: render one view with every method first, untimed (allocator, threads).
        keep_images: keep the predictions of the first N views (for figures).
        on_prediction: called as ``(label, view index, prediction (H, W, 3))`` per render.

    Returns ``{"rows": [...], "images": {label: [(H, W, 3) tensors]}}``; each row has
    ``label, psnr, ssim, render_s_per_frame`` (median), ``render_s_all``,
    ``evals_per_ray``, ``speedup`` (baseline seconds / own seconds), ``views`` and
    ``per_image`` (``index, psnr, ssim, seconds`` of each view).

    Example:
        >>> from quadfree.radiance.registry import build_method
        >>> m, _ = build_method("nerf", {"width": 8, "depth": 1, "skips": "", "n_fine": 0})
        >>> v = BlenderSplit(torch.ones(3, 12, 12, 3), torch.eye(4).repeat(3, 1, 1), 12, 12,
        ...                  12.0, 2.0, 6.0, 0.9)
        >>> out = compare_methods({"a": m, "b": m}, v, progress=False)
        >>> [r["label"] for r in out["rows"]], out["rows"][0]["speedup"]
        (['a', 'b'], 1.0)
    """
    labels = list(methods)
    baseline = baseline or labels[0]
    n = len(views) if max_views is None else min(max_views, len(views))
    if warmup:
        for label in labels:
            render_image(methods[label], _small(views.camera(0)), near=views.near,
                         far=views.far, chunk=chunk, device=device)
    seconds: dict[str, list[float]] = {k: [] for k in labels}
    scores: dict[str, list[tuple[float, float]]] = {k: [] for k in labels}
    images: dict[str, list[torch.Tensor]] = {k: [] for k in labels}
    bar = tqdm(total=n * len(labels), disable=not progress, desc="render test views")
    for i in range(n):
        ref = views.images[i]
        for label in labels:
            out = render_image(methods[label], views.camera(i), near=views.near, far=views.far,
                               chunk=chunk, device=device)
            pred = out["rgb"].clamp(0, 1)
            seconds[label].append(out["seconds"])
            scores[label].append((psnr(pred, ref), ssim(pred, ref)))
            if i < keep_images:
                images[label].append(pred)
            if on_prediction is not None:
                on_prediction(label, i, pred)
            bar.update(1)
    bar.close()
    base = statistics.median(seconds[baseline])
    rows = []
    for label in labels:
        med = statistics.median(seconds[label])
        rows.append({"label": label,
                     "psnr": float(np.mean([s[0] for s in scores[label]])),
                     "ssim": float(np.mean([s[1] for s in scores[label]])),
                     "render_s_per_frame": med,
                     "render_s_all": [round(s, 5) for s in seconds[label]],
                     "evals_per_ray": int(methods[label].evals_per_ray()),
                     "speedup": base / med if med > 0 else float("inf"),
                     "views": n,
                     "per_image": [{"index": i, "psnr": p, "ssim": q, "seconds": t}
                                   for i, ((p, q), t) in enumerate(zip(scores[label],
                                                                       seconds[label]))]})
    return {"rows": rows, "images": images}


def _small(camera: Camera) -> Camera:
    """A 16×16 crop-sized version of ``camera`` for warm-up renders."""
    scale = 16 / max(camera.height, camera.width)
    return Camera(16, 16, camera.focal * scale, camera.c2w)


def plot_quality_vs_time(rows: list[dict[str, Any]], path: str | Path, title: str = "") -> None:
    """Scatter PSNR against render seconds per frame (log x), one labelled point per row.

    Example:
        >>> import tempfile, pathlib
        >>> rows = [{"label": "a", "psnr": 20.0, "render_s_per_frame": 1.0, "evals_per_ray": 9}]
        >>> plot_quality_vs_time(rows, pathlib.Path(tempfile.mkdtemp()) / "q.png")
    """
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for row in rows:
        ax.scatter(row["render_s_per_frame"], row["psnr"], s=40)
        ax.annotate(f"{row['label']} ({row['evals_per_ray']} evals/ray)",
                    (row["render_s_per_frame"], row["psnr"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    times = [row["render_s_per_frame"] for row in rows]
    ax.set_xlim(min(times) / 2.0, max(times) * 4.0)
    psnrs = [row["psnr"] for row in rows]
    ax.set_ylim(min(psnrs) - 1.0, max(psnrs) + 1.0)
    ax.set_xlabel("render time per frame (s, log scale)")
    ax.set_ylabel("test PSNR (dB)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def plot_image_grid(columns: dict[str, list[torch.Tensor]], path: str | Path,
                    title: str = "", captions: dict[str, list[str]] | None = None) -> None:
    """A grid with one column per label (e.g. ground truth, NeRF, AutoInt) and one row per
    view; images ``(H, W, 3)`` in [0, 1]. ``captions`` (optional): label → one text per view,
    written under that panel (e.g. its PSNR and seconds per frame).

    Example:
        >>> import tempfile, pathlib
        >>> cols = {"gt": [torch.ones(4, 4, 3)], "pred": [torch.zeros(4, 4, 3)]}
        >>> plot_image_grid(cols, pathlib.Path(tempfile.mkdtemp()) / "g.png",
        ...                 captions={"pred": ["0.0 dB"]})
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(columns)
    rows = min(len(v) for v in columns.values())
    extra = 0.25 * rows if captions else 0.0
    fig, axes = plt.subplots(rows, len(labels),
                             figsize=(2.2 * len(labels), 2.2 * rows + 0.3 + extra),
                             squeeze=False)
    for c, label in enumerate(labels):
        for r in range(rows):
            ax = axes[r][c]
            ax.imshow(columns[label][r].clamp(0, 1).cpu().numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(label, fontsize=9)
            text = (captions or {}).get(label, [])
            if r < len(text) and text[r]:
                ax.set_xlabel(text[r], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
