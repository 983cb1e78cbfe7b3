"""``quadfree bench tomo``: sparse-view CT on Shepp–Logan at 4×, 8×, 16× angular subsampling.

For each subsampling of a full scan (128 angles over [0°, 180°)) the benchmark trains an
AutoInt sinogram model on the measured views and reports held-out-angle sinogram PSNR
(AutoInt vs linear angular interpolation) and image PSNR/SSIM inside the circle for FBP and
SART (5 iterations) from the sparse views and FBP from the AutoInt-completed sinogram. An
activation comparison (same problem, same budget) is run at one subsampling.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.fields import ACTIVATIONS
from quadfree.machine import machine_info
from quadfree.seeding import seed_everything
from quadfree.tomo.experiment import ModelConfig
from quadfree.tomo.train import SinogramTrainConfig

SMOOTH = sorted(a for a in ACTIVATIONS if a != "relu")

ROW_KEYS = ("subsample", "views", "sinogram_psnr_autoint", "sinogram_psnr_linear",
            "image_psnr_fbp_sparse", "image_ssim_fbp_sparse", "image_psnr_sart_sparse",
            "image_ssim_sart_sparse", "image_psnr_fbp_autoint", "image_ssim_fbp_autoint",
            "train_seconds")


@dataclass
class TomoBenchOptions:
    """What ``quadfree bench tomo`` runs (typed; the flags live in ``quadfree.cli.bench_tomo``).

    Attributes:
        size: Shepp–Logan size; angles: angles of the full scan over [0°, 180°).
        subsamples: angular subsampling factors, one row each.
        compare_activations: activations compared at ``compare_at`` (empty: skip).
        model, training: the AutoInt sinogram model and its training.
        plot: write the figure here (None: no figure).
        seed, device, progress: as everywhere.
    """

    size: int = 64
    angles: int = 128
    subsamples: tuple[int, ...] = (4, 8, 16)
    compare_activations: tuple[str, ...] = ("sine", "swish", "tanh", "softplus")
    compare_at: int = 8
    model: ModelConfig = field(default_factory=ModelConfig)
    training: SinogramTrainConfig = field(default_factory=SinogramTrainConfig)
    plot: Path | None = None
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True


def run_benchmark(opts: TomoBenchOptions) -> dict:
    """Run the benchmark; returns the JSON-ready result.

    Example:
        >>> run_benchmark(TomoBenchOptions(compare_activations=("relu",)))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: compare_activations: unknown activation 'relu'; ...
    """
    from quadfree.tomo import phantom, run_sparse_view, scan_angles, select_views, simulate

    device, model_cfg, train_cfg = opts.device, opts.model, opts.training
    subsamples = list(opts.subsamples)
    if not subsamples:
        raise QuadfreeError("subsamples: empty list", param="subsamples")
    acts = list(opts.compare_activations)
    for a in acts:
        if a not in SMOOTH:
            raise QuadfreeError(f"compare_activations: unknown activation {a!r}; choose "
                                f"from {SMOOTH}", param="compare_activations")
    image = phantom("shepp-logan", opts.size)
    angles = scan_angles(opts.angles)
    full = simulate(image, angles)
    rows, details, results = [], [], {}
    for s in subsamples:
        seed_everything(opts.seed)
        idx = select_views(angles.size, subsample=s)
        res = run_sparse_view(full, angles, idx, image, model_cfg, train_cfg, device=device,
                              progress=opts.progress)
        m = res.metrics
        rows.append({"subsample": s, **{k: m[k] for k in ROW_KEYS if k != "subsample"}})
        details.append({"subsample": s,
                        "sinogram_psnr_autoint_train_views": m[
                            "sinogram_psnr_autoint_train_views"],
                        "image_psnr_fbp_linear": m["image_psnr_fbp_linear"],
                        "image_ssim_fbp_linear": m["image_ssim_fbp_linear"],
                        "predict_seconds": m["predict_seconds"],
                        "winner_sinogram": ("autoint" if m["sinogram_psnr_autoint"]
                                            > m["sinogram_psnr_linear"] else "linear"),
                        "winner_image_psnr": _best(m, "psnr"),
                        "winner_image_ssim": _best(m, "ssim")})
        results[s] = res
    activations = []
    for act in acts:
        if act == model_cfg.activation and opts.compare_at in results:
            m = results[opts.compare_at].metrics
        else:
            seed_everything(opts.seed)
            idx = select_views(angles.size, subsample=opts.compare_at)
            m = run_sparse_view(full, angles, idx, image, replace(model_cfg, activation=act),
                                train_cfg, device=device, progress=opts.progress).metrics
        activations.append({"activation": act, "subsample": opts.compare_at,
                            **{k: m[k] for k in ("sinogram_psnr_autoint",
                                                 "sinogram_psnr_linear",
                                                 "sinogram_psnr_autoint_train_views",
                                                 "image_psnr_fbp_autoint",
                                                 "image_ssim_fbp_autoint", "train_seconds")}})
    result = {
        "rows": rows,
        "details": details,
        "activations": activations,
        "phantom": f"shepp-logan {opts.size}x{opts.size}",
        "full_angles": int(opts.angles),
        "model": vars(model_cfg),
        "training": vars(train_cfg),
        "machine": machine_info(device),
    }
    if opts.plot is not None:
        _plot(result, results, opts.plot)
    return result


def _best(m: dict, kind: str) -> str:
    keys = ("fbp_sparse", "sart_sparse", "fbp_autoint")
    return max(keys, key=lambda k: m[f"image_{kind}_{k}"])


def _plot(result: dict, results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from quadfree.atomic import save_figure

    rows = result["rows"]
    subs = [r["subsample"] for r in rows]
    cols = max(3, len(subs) + 1)
    fig, ax = plt.subplots(2, cols, figsize=(5 * cols, 9))
    x = np.arange(len(subs))
    ax[0, 0].plot(x, [r["sinogram_psnr_autoint"] for r in rows], "o-", label="AutoInt")
    ax[0, 0].plot(x, [r["sinogram_psnr_linear"] for r in rows], "s-", label="linear interp.")
    ax[0, 0].set_title("held-out sinogram PSNR (dB)")
    for key, label in (("fbp_sparse", "FBP sparse"), ("sart_sparse", "SART×5 sparse"),
                       ("fbp_autoint", "FBP AutoInt-completed")):
        ax[0, 1].plot(x, [r[f"image_psnr_{key}"] for r in rows], "o-", label=label)
        ax[0, 2].plot(x, [r[f"image_ssim_{key}"] for r in rows], "o-", label=label)
    ax[0, 1].set_title("image PSNR inside circle (dB)")
    ax[0, 2].set_title("image SSIM inside circle")
    for a in ax[0, :3]:
        a.set_xticks(x, [f"{s}× ({r['views']} views)" for s, r in zip(subs, rows)])
        a.legend(fontsize=8)
    for a in ax[0, 3:]:
        a.axis("off")
    for j, s in enumerate(subs):
        img = results[s].images["fbp_autoint"]
        ax[1, j].imshow(img, cmap="gray", vmin=0, vmax=1)
        ax[1, j].set_title(f"FBP of AutoInt-completed, {s}×")
        ax[1, j].axis("off")
    for a in ax[1, len(subs):]:
        a.axis("off")
    acts = result["activations"]
    if acts and len(subs) < ax.shape[1]:
        a = ax[1, -1]
        a.axis("on")
        a.bar(range(len(acts)), [r["sinogram_psnr_autoint"] for r in acts])
        a.axhline(acts[0]["sinogram_psnr_linear"], color="k", ls="--", label="linear")
        a.set_xticks(range(len(acts)), [r["activation"] for r in acts])
        a.set_title(f"held-out sinogram PSNR by activation, {acts[0]['subsample']}×")
        a.legend(fontsize=8)
    fig.suptitle(f"{result['phantom']}, {result['full_angles']} angles")
    fig.tight_layout()
    save_figure(fig, path, dpi=80)
    plt.close(fig)
