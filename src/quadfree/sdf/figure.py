"""Figure of fitted SDFs: one row per field (ground truth, Taylor, MLP, …), columns: slices of
the SDF through the centre (z = 0 and x = 0, zero level in black) and two shaded views of the
extracted mesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quadfree.atomic import save_figure
from quadfree.sdf.mesh import TriMesh

LIGHT = np.array([0.4, -0.5, 0.75]) / np.linalg.norm([0.4, -0.5, 0.75])
VIEWS = ((20, -60), (35, 30))


def _shaded(ax, mesh: TriMesh | None, elev: float, azim: float) -> None:
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection
    ax.set_axis_off()
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlim(-0.9, 0.9)
    ax.set_ylim(-0.9, 0.9)
    ax.set_zlim(-0.9, 0.9)
    if mesh is None or len(mesh.faces) == 0:
        ax.text2D(0.3, 0.5, "no surface", transform=ax.transAxes)
        return
    shade = 0.25 + 0.75 * np.clip(mesh.face_normals() @ LIGHT, 0, 1)
    colours = np.clip(shade[:, None] * np.array([0.85, 0.75, 0.6]), 0, 1)
    ax.add_collection3d(Poly3DCollection(mesh.triangles(), facecolors=colours,
                                         edgecolors="none", linewidths=0))


def sdf_figure(rows: list[tuple[str, np.ndarray, TriMesh | None]], target: str | Path,
               title: str = "") -> None:
    """Save the figure: ``rows`` of (label, SDF grid ``(R, R, R)`` over [−1, 1]³, mesh).

    Example:
        >>> import tempfile, pathlib, torch
        >>> from quadfree.sdf.extract import marching_cubes, sample_grid
        >>> g = sample_grid(lambda x: x.norm(dim=-1) - 0.5, 12)
        >>> sdf_figure([("sphere", g, marching_cubes(g))],
        ...            pathlib.Path(tempfile.mkdtemp()) / "f.png")
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(rows)
    fig = plt.figure(figsize=(12, 3.0 * n))
    vmax = max(float(np.abs(g).max()) for _, g, _ in rows)
    for r, (label, grid, mesh) in enumerate(rows):
        R = grid.shape[0]
        for c, (sl, name) in enumerate(((grid[:, :, R // 2].T, "z = 0"),
                                        (grid[R // 2, :, :].T, "x = 0"))):
            ax = fig.add_subplot(n, 4, 4 * r + c + 1)
            im = ax.imshow(sl, origin="lower", extent=(-1, 1, -1, 1), cmap="RdBu_r",
                           vmin=-vmax, vmax=vmax)
            ax.contour(np.linspace(-1, 1, R), np.linspace(-1, 1, R), sl, levels=[0.0],
                       colors="k", linewidths=0.8)
            ax.set_title(f"{label}: SDF {name}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 1:
                fig.colorbar(im, ax=ax, fraction=0.046)
        for v, (elev, azim) in enumerate(VIEWS):
            ax = fig.add_subplot(n, 4, 4 * r + 3 + v, projection="3d")
            _shaded(ax, mesh, elev, azim)
            ax.set_title(f"{label}: mesh", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, target, dpi=110)
    plt.close(fig)
