"""``quadfree bench tomo``: sparse-view CT on Shepp–Logan at 4×, 8×, 16× angular subsampling.

For each size and each subsampling of a full scan (128 angles over [0°, 180°)) the benchmark
reconstructs from the measured views with the chosen methods — AutoInt (sinogram network,
FBP of the completed sinogram), Taylor (one FC²T² image fitted by exact line integrals),
Taylor with AutoInt's completion as a weighted prior (``taylor_autoint``) and svmbir's MBIR —
and reports held-out-angle sinogram PSNR (AutoInt, the Taylor images, linear angular
interpolation), image PSNR/SSIM inside the circle for every reconstruction (FBP and SART×5
from the sparse views always), seconds, and the Taylor view-consistency check (dense
quadrature of its image along held-out lines reproduces its predicted sinogram, ≤ 1e-4). An
AutoInt activation comparison (same problem, same budget) is run at one subsampling.
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
from quadfree.tomo.experiment import METHODS, NEEDS, ModelConfig
from quadfree.tomo.taylor_model import TaylorCTConfig
from quadfree.tomo.train import SinogramTrainConfig

SMOOTH = sorted(a for a in ACTIVATIONS if a != "relu")

BASE_KEYS = ("views", "sinogram_psnr_linear", "image_psnr_fbp_sparse", "image_ssim_fbp_sparse",
             "image_psnr_sart_sparse", "image_ssim_sart_sparse")
METHOD_KEYS = {
    "autoint": ("sinogram_psnr_autoint", "image_psnr_fbp_autoint", "image_ssim_fbp_autoint",
                "train_seconds"),
    "taylor": ("image_psnr_taylor", "image_ssim_taylor", "sinogram_psnr_taylor",
               "taylor_seconds", "taylor_view_consistency"),
    "taylor_autoint": ("image_psnr_taylor_autoint", "image_ssim_taylor_autoint",
                       "sinogram_psnr_taylor_autoint", "taylor_autoint_seconds",
                       "taylor_autoint_view_consistency"),
    "mbir": ("image_psnr_mbir", "image_ssim_mbir", "mbir_seconds"),
}
#: the Taylor methods (one consistent image each): their details and "beats" checks
TAYLOR_METHODS = ("taylor", "taylor_autoint")
#: bound of the view-consistency check (relative to the sinogram's maximum)
CONSISTENCY_TOL = 1e-4


@dataclass
class TomoBenchOptions:
    """What ``quadfree bench tomo`` runs (typed; the flags live in ``quadfree.cli.bench_tomo``).

    Attributes:
        sizes: Shepp–Logan sizes; angles: angles of the full scan over [0°, 180°).
        subsamples: angular subsampling factors, one row each per size.
        methods: of ``autoint``, ``taylor``, ``taylor_autoint`` (adds ``autoint``), ``mbir``
            (FBP, SART and linear always run).
        taylor: the Taylor CT model and its fit.
        compare_activations: activations compared at ``compare_at`` (empty: skip).
        model, training: the AutoInt sinogram model and its training.
        plot: write the figure here (None: no figure).
        seed, device, progress: as everywhere.
    """

    sizes: tuple[int, ...] = (64,)
    angles: int = 128
    subsamples: tuple[int, ...] = (4, 8, 16)
    methods: tuple[str, ...] = METHODS
    taylor: TaylorCTConfig = field(default_factory=TaylorCTConfig)
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
    bad = sorted(set(opts.methods) - set(METHODS))
    if bad or not opts.methods:
        raise QuadfreeError(f"methods: {bad or 'empty'}; choose from {list(METHODS)}",
                            param="methods")
    wanted = set(opts.methods) | {NEEDS[m] for m in opts.methods if m in NEEDS}
    methods = [m for m in METHODS if m in wanted]
    if "autoint" not in methods:
        acts = []
    scan_angles(opts.angles)        # run_sparse_view checks the Taylor settings before training
    for s in subsamples:                        # every row's views, before any training
        select_views(opts.angles, subsample=s)
    rows, details, results = [], [], {}
    activations = []
    for size in opts.sizes:
        image = phantom("shepp-logan", size)
        angles = scan_angles(opts.angles)
        full = simulate(image, angles)
        for s in subsamples:
            seed_everything(opts.seed)
            idx = select_views(angles.size, subsample=s)
            res = run_sparse_view(full, angles, idx, image, model_cfg, train_cfg, device=device,
                                  progress=opts.progress, methods=methods,
                                  taylor_config=opts.taylor)
            m = res.metrics
            row = {"size": size, "subsample": s, **{k: m[k] for k in BASE_KEYS}}
            for meth in methods:
                row.update({k: m[k] for k in METHOD_KEYS[meth]})
            for key in (k for k in TAYLOR_METHODS if k in methods):
                row[f"{key}_view_consistent"] = (m[f"{key}_view_consistency"]
                                                 <= CONSISTENCY_TOL)
            rows.append(row)
            detail = {"size": size, "subsample": s,
                      "image_psnr_fbp_linear": m["image_psnr_fbp_linear"],
                      "image_ssim_fbp_linear": m["image_ssim_fbp_linear"],
                      "winner_image_psnr": _best(m, "psnr"),
                      "winner_image_ssim": _best(m, "ssim")}
            if "autoint" in methods:
                detail.update({
                    "sinogram_psnr_autoint_train_views": m["sinogram_psnr_autoint_train_views"],
                    "predict_seconds": m["predict_seconds"]})
            sinos = [k for k in ("autoint", "taylor", "taylor_autoint", "linear")
                     if f"sinogram_psnr_{k}" in m]
            detail["winner_sinogram"] = max(sinos, key=lambda k: m[f"sinogram_psnr_{k}"])
            peers = [k for k in ("sart_sparse", "fbp_sparse", "fbp_autoint", "mbir")
                     if f"image_psnr_{k}" in m]
            for key in (k for k in TAYLOR_METHODS if k in methods):
                detail.update({k: m[k] for k in (
                    f"sinogram_psnr_{key}_train_views", f"{key}_iterations",
                    f"{key}_evaluations", f"{key}_predict_seconds", f"{key}_sources",
                    f"{key}_image_min", f"{key}_radon_of_image_rel_error")})
                others = peers + [k for k in TAYLOR_METHODS if k != key and k in methods]
                detail[f"{key}_psnr_beats"] = {k: m[f"image_psnr_{key}"]
                                               > m[f"image_psnr_{k}"] for k in others}
            if "taylor_autoint" in methods:
                detail["taylor_autoint_predicted_views"] = m["taylor_autoint_predicted_views"]
            details.append(detail)
            results[(size, s)] = res
        for act in acts:
            if act == model_cfg.activation and (size, opts.compare_at) in results:
                m = results[(size, opts.compare_at)].metrics
            else:
                seed_everything(opts.seed)
                idx = select_views(angles.size, subsample=opts.compare_at)
                m = run_sparse_view(full, angles, idx, image,
                                    replace(model_cfg, activation=act), train_cfg,
                                    device=device, progress=opts.progress).metrics
            activations.append({"size": size, "activation": act, "subsample": opts.compare_at,
                                **{k: m[k] for k in ("sinogram_psnr_autoint",
                                                     "sinogram_psnr_linear",
                                                     "sinogram_psnr_autoint_train_views",
                                                     "image_psnr_fbp_autoint",
                                                     "image_ssim_fbp_autoint",
                                                     "train_seconds")}})
    result = {
        "rows": rows,
        "details": details,
        "activations": activations,
        "phantom": "shepp-logan " + ", ".join(f"{n}x{n}" for n in opts.sizes),
        "full_angles": int(opts.angles),
        "methods": methods,
        "model": vars(model_cfg),
        "training": vars(train_cfg),
        "taylor": vars(opts.taylor),
        "consistency_tol": CONSISTENCY_TOL,
        "machine": machine_info(device),
    }
    if opts.plot is not None:
        _plot(result, results, opts.plot)
    return result


RECS = (("fbp_sparse", "FBP sparse"), ("sart_sparse", "SART×5 sparse"), ("mbir", "MBIR svmbir"),
        ("fbp_autoint", "FBP AutoInt-completed"), ("taylor", "Taylor image"),
        ("taylor_autoint", "Taylor image, AutoInt prior"))


def _best(m: dict, kind: str) -> str:
    keys = [k for k, _ in RECS if f"image_{kind}_{k}" in m]
    return max(keys, key=lambda k: m[f"image_{kind}_{k}"])


def _plot(result: dict, results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from quadfree.atomic import save_figure

    rows = result["rows"]
    sizes = sorted({r["size"] for r in rows})
    shows = [k for k in TAYLOR_METHODS if k in result["methods"]] or [
        "fbp_autoint" if "autoint" in result["methods"] else "mbir"]
    panels = [(size, show) for size in sizes for show in shows]      # one image row each
    subs = sorted({r["subsample"] for r in rows})
    cols = max(3, len(subs))
    fig, ax = plt.subplots(1 + len(panels), cols, figsize=(5 * cols, 4.5 * (1 + len(panels))),
                           squeeze=False)
    marks = {64: "o-", 128: "s--"}
    for size in sizes:
        rs = [r for r in rows if r["size"] == size]
        x = np.arange(len(rs))
        for key, label in RECS:
            if f"image_psnr_{key}" in rs[0]:
                ax[0, 0].plot(x, [r[f"image_psnr_{key}"] for r in rs], marks.get(size, "o-"),
                              label=f"{label} {size}")
                ax[0, 1].plot(x, [r[f"image_ssim_{key}"] for r in rs], marks.get(size, "o-"),
                              label=f"{label} {size}")
        for key, label in (("autoint", "AutoInt"), ("taylor", "Taylor"),
                           ("taylor_autoint", "Taylor, AutoInt prior"), ("linear", "linear")):
            if f"sinogram_psnr_{key}" in rs[0]:
                ax[0, 2].plot(x, [r[f"sinogram_psnr_{key}"] for r in rs],
                              marks.get(size, "o-"), label=f"{label} {size}")
    ax[0, 0].set_title("image PSNR inside circle (dB)")
    ax[0, 1].set_title("image SSIM inside circle")
    ax[0, 2].set_title("held-out sinogram PSNR (dB)")
    for a in ax[0, :3]:
        a.set_xticks(np.arange(len(subs)), [f"{s}×" for s in subs])
        a.legend(fontsize=6)
    for a in ax[0, 3:]:
        a.axis("off")
    for i, (size, show) in enumerate(panels, start=1):
        for j, s in enumerate(subs):
            res = results[(size, s)]
            ax[i, j].imshow(res.images[show], cmap="gray", vmin=0, vmax=1)
            ax[i, j].set_title(f"{dict(RECS)[show]}, {size}², {s}× "
                               f"({res.metrics[f'image_psnr_{show}']:.1f} dB)")
            ax[i, j].axis("off")
        for a in ax[i, len(subs):]:
            a.axis("off")
    fig.suptitle(f"{result['phantom']}, {result['full_angles']} angles")
    fig.tight_layout(rect=(0, 0, 1, 0.98))          # keep the title off the panels' titles
    save_figure(fig, path, dpi=80)
    plt.close(fig)
