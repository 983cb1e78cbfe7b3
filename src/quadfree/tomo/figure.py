"""The sparse-view CT figure: sinograms, a scan line through them, reconstructions, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quadfree.atomic import save_figure
from quadfree.tomo.geometry import circle_mask


def scan_line_detector(full: np.ndarray) -> int:
    """The detector row whose projection varies most with angle (an informative scan line).

    Example:
        >>> scan_line_detector(np.array([[1.0, 1.0], [0.0, 3.0]]))
        1
    """
    return int(np.argmax(np.asarray(full).std(axis=1)))


SINOGRAMS = (("autoint", "AutoInt", "--", "tab:blue"), ("taylor", "Taylor", "-.", "tab:green"),
             ("taylor_autoint", "Taylor+AutoInt", ":", "tab:red"))
RECONSTRUCTIONS = (("fbp_sparse", "FBP (sparse)"), ("sart_sparse", "SART×5 (sparse)"),
                   ("mbir", "MBIR (svmbir)"), ("fbp_linear", "FBP (linear-completed)"),
                   ("fbp_autoint", "FBP (AutoInt-completed)"), ("taylor", "Taylor image"),
                   ("taylor_autoint", "Taylor image (AutoInt prior)"))


def plot_sparse_view(result, path: str | Path, title: str = "") -> None:
    """Write the comparison figure of a :class:`~quadfree.tomo.SparseViewResult` to ``path``.

    Row 1: full, sparse, linear-interpolated and predicted sinograms (AutoInt, Taylor: the
    methods that ran), and a 1-D scan line along θ at one detector. Row 2: reference and
    reconstructions. Row 3: absolute errors inside the circle.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, im, m = result.sinograms, result.images, result.metrics
    angles, idx = result.angles, result.train_index
    sparse = np.full_like(s["full"], np.nan)
    sparse[:, idx] = s["full"][:, idx]
    sino_panels = [("full sinogram", s["full"]), (f"measured: {idx.size} views", sparse),
                   (f"linear interp. {m['sinogram_psnr_linear']:.2f} dB", s["linear"])]
    sino_panels += [(f"{label} {m[f'sinogram_psnr_{key}']:.2f} dB", s[key])
                    for key, label, _, _ in SINOGRAMS if key in s]
    recs = [(k, name) for k, name in RECONSTRUCTIONS if k in im]
    cols = max(len(sino_panels) + 1, len(recs) + 1)
    fig, ax = plt.subplots(3, cols, figsize=(3.8 * cols, 11))
    vmax = float(s["full"].max())
    extent = (angles[0], angles[-1], s["full"].shape[0] - 0.5, -0.5)
    cmap = plt.get_cmap("gray").with_extremes(bad="midnightblue")
    det = scan_line_detector(s["full"])
    for a, (name, img) in zip(ax[0], sino_panels):
        a.imshow(np.ma.masked_invalid(img), cmap=cmap, vmin=0, vmax=vmax, aspect="auto",
                 extent=extent)
        a.set_title(name)
        a.set_xlabel("θ (degrees)")
        a.axhline(det, color="tab:red", lw=0.6)
    ax[0, 0].set_ylabel("detector")
    a = ax[0, len(sino_panels)]
    a.plot(angles, s["full"][det], "k-", lw=2, label="ground truth")
    a.plot(angles, s["linear"][det], "-", color="tab:orange", label="linear")
    for key, label, style, color in SINOGRAMS:
        if key in s:
            a.plot(angles, s[key][det], style, color=color, label=label)
    a.plot(angles[idx], s["full"][det, idx], "o", color="tab:red", label="measured")
    a.set_title(f"scan line, detector {det}")
    a.set_xlabel("θ (degrees)")
    a.legend(fontsize=8)
    for a in ax[0, len(sino_panels) + 1:]:
        a.axis("off")
    ref = im["reference"]
    mask = circle_mask(ref.shape[0])
    hi = float(ref.max())
    ax[1, 0].imshow(ref, cmap="gray", vmin=0, vmax=hi)
    ax[1, 0].set_title(f"reference ({m['reference']})")
    ax[2, 0].axis("off")
    errmax = max(float(np.abs((im[k] - ref)[mask]).max()) for k, _ in recs)
    for j, (key, name) in enumerate(recs, start=1):
        ax[1, j].imshow(im[key], cmap="gray", vmin=0, vmax=hi)
        ax[1, j].set_title(f"{name}\n{m[f'image_psnr_{key}']:.2f} dB, "
                           f"SSIM {m[f'image_ssim_{key}']:.3f}")
        err = np.where(mask, np.abs(im[key] - ref), 0.0)
        ax[2, j].imshow(err, cmap="magma", vmin=0, vmax=errmax)
        ax[2, j].set_title(f"|error| {name}")
    for row in (1, 2):
        for a in ax[row, len(recs) + 1:]:
            a.axis("off")
    for a in ax[1:].ravel():
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(title or f"sparse-view CT: {idx.size} of {angles.size} views")
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)
