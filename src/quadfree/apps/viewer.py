"""A live web viewer for trained runs, built on ``viser`` (its web client ships in the wheel).

The scene shows the training cameras as frustums; the browser's free camera is rendered by
the run's method: at a small preview resolution while the camera moves, then at the full
resolution once it has rested ``rest_s`` seconds. The render time per frame is shown in the
panel, with a switch between runs (e.g. NeRF and AutoInt trained on the same data) and a
resolution slider. One background thread renders for every connected browser.

Conventions: viser's cameras are OpenCV-style (x right, y down, looking along +z); ours are
OpenGL (y up, looking along −z): ``R_gl = R_cv · diag(1, −1, −1)``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quadfree.apps.runs import run_split
from quadfree.data.views import ViewSet
from quadfree.errors import QuadfreeError
from quadfree.images import to_uint8
from quadfree.radiance.base import RadianceMethod
from quadfree.render.image import render_image
from quadfree.render.rays import Camera
from quadfree.train.checkpoint import load_run
from quadfree.train.snapshot import WeightSnapshot

log = logging.getLogger(__name__)
FLIP = np.diag([1.0, -1.0, -1.0])
MAX_FRUSTUMS = 60


@dataclass
class LoadedRun:
    """A run ready to render: its name, method (eval mode), checkpoint dict, training views;
    a run that is still training has a ``snapshot`` (:class:`WeightSnapshot`), whose model is
    rendered instead of ``method`` and whose training step is shown."""

    name: str
    method: RadianceMethod
    state: dict[str, Any]
    views: ViewSet
    snapshot: WeightSnapshot | None = None


def load_runs(runs: list[str | Path], device: torch.device | str = "cpu") -> list[LoadedRun]:
    """Load every run directory (a bad one is a :class:`QuadfreeError` naming it); names are
    ``<dir name> (<method>)``, made unique with ``#k`` (the browser's run switch needs that).

    Example:
        >>> load_runs(["/no/such/run"])
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /no/such/run/checkpoint.pt: checkpoint not found
    """
    if not runs:
        raise QuadfreeError("runs: give at least one run directory", param="runs")
    out = []
    for run in runs:
        method, state = load_run(run, device)
        views = run_split(state, "train")
        name = f"{Path(run).name} ({state['method']})"
        taken = {r.name for r in out}
        k = 2
        while name in taken:
            name, k = f"{Path(run).name} ({state['method']}) #{k}", k + 1
        out.append(LoadedRun(name, method, state, views))
    return out


def viewer_camera(wxyz: np.ndarray, position: np.ndarray, fov: float, aspect: float,
                  height: int, views: ViewSet) -> Camera:
    """Our :class:`Camera` for a viser camera (unit quaternion ``wxyz``, ``position``,
    vertical ``fov`` in radians, ``aspect`` = W/H) at ``height`` pixels, with the dataset's
    NDC setting.

    Example:
        >>> v = ViewSet(torch.ones(1, 2, 2, 3), torch.eye(4)[None], 2, 2, 2.0, 2.0, 6.0, 0.9)
        >>> cam = viewer_camera(np.array([1.0, 0, 0, 0]), np.zeros(3), math.pi / 2, 2.0, 4, v)
        >>> cam.width, round(cam.focal, 6), cam.c2w[:3, 2].tolist()   # looks along +z
        (8, 2.0, [0.0, 0.0, -1.0])
    """
    w, x, y, z = (float(v) for v in wxyz)
    rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = rot @ FLIP, position
    width = max(1, round(height * aspect))
    focal = 0.5 * height / math.tan(0.5 * fov)
    return Camera(height, width, focal, torch.from_numpy(c2w).float(), ndc_near=views.ndc_near)


def _wxyz(rot: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix."""
    from viser import transforms

    return transforms.SO3.from_matrix(rot).wxyz


class Viewer:
    """The viewer server (see the module docstring). ``close()`` stops it.

    Args:
        runs: run directories or :class:`LoadedRun` s (the first is shown first; its training
            cameras are drawn).
        host, port: where the server listens (default loopback only; port 0 = any free one).
        resolution: full-resolution image height once the camera rests.
        preview: image height while the camera moves.
        rest_s: seconds of rest before refining.
        chunk: rays per forward pass; device: torch device.

    Attributes:
        frames: images rendered so far; last: ``{"run", "height", "width", "seconds",
        "refined"}`` of the latest image.
    """

    def __init__(self, runs: Sequence[str | Path | LoadedRun], *, host: str = "127.0.0.1",
                 port: int = 8080, resolution: int = 128, preview: int = 64, rest_s: float = 0.3,
                 chunk: int = 16384, device: torch.device | str = "cpu") -> None:
        if resolution < 8 or preview < 8:
            raise QuadfreeError(f"resolution {resolution}, preview {preview}: both must be "
                                ">= 8", param="resolution")
        if not 0 <= port < 65536:
            raise QuadfreeError(f"port {port}: must be in [0, 65535]", param="port")
        loaded = iter(load_runs([r for r in runs if not isinstance(r, LoadedRun)], device)
                      if any(not isinstance(r, LoadedRun) for r in runs) else [])
        self.runs = [r if isinstance(r, LoadedRun) else next(loaded) for r in runs]
        if not self.runs:
            raise QuadfreeError("runs: give at least one run directory", param="runs")
        self.resolution, self.preview, self.rest_s = resolution, preview, rest_s
        self.chunk, self.device = chunk, device
        self.current = 0
        self.frames = 0
        self.last: dict[str, Any] = {}
        self._states: dict[int, dict[str, float]] = {}
        self._seen: dict[int, int] = {}           # run index -> snapshot version rendered
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        import viser

        try:
            self.server = viser.ViserServer(host=host, port=port, verbose=False)
        except OSError as exc:
            raise QuadfreeError(f"port {port}: cannot listen on {host} ({exc})",
                                param="port") from None
        self._build_scene()
        self.server.on_client_connect(self._on_connect)
        self.server.on_client_disconnect(self._on_disconnect)
        self._thread = threading.Thread(target=self._loop, name="quadfree-viewer", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server.get_port()

    @property
    def url(self) -> str:
        return f"http://{self.server.get_host()}:{self.port}"

    # -- scene and panel -------------------------------------------------------------------
    def _build_scene(self) -> None:
        views = self.runs[0].views
        self.server.scene.set_up_direction("+z" if views.format == "blender" else "+y")
        centres = views.poses[:, :3, 3].double().numpy()
        scale = 0.03 * max(float(np.linalg.norm(centres - centres.mean(0), axis=1).max()), 0.5)
        fov = 2 * math.atan(0.5 * views.height / views.camera(0).focal)
        step = max(1, len(views) // MAX_FRUSTUMS)
        for i in range(0, len(views), step):
            pose = views.poses[i].double().numpy()
            self.server.scene.add_camera_frustum(
                f"/train/{i}", fov=fov, aspect=views.width / views.height, scale=scale,
                wxyz=_wxyz(pose[:3, :3] @ FLIP), position=pose[:3, 3], color=(230, 120, 20))
        gui = self.server.gui
        names = [r.name for r in self.runs]
        self.run_choice = gui.add_dropdown("Run", options=names, initial_value=names[0])
        self.res_slider = gui.add_slider("Resolution", min=16, max=512, step=16,
                                         initial_value=self.resolution)
        self.status = gui.add_markdown("waiting for a camera")
        self.run_choice.on_update(lambda _e: self._select(names.index(self.run_choice.value)))
        self.res_slider.on_update(lambda _e: self._invalidate())

    def _select(self, index: int) -> None:
        self.current = index
        self._invalidate()

    def _invalidate(self) -> None:
        with self._lock:
            for st in self._states.values():
                st["version"] += 1
                st["changed"] = 0.0          # no preview needed: refine at once
        self._wake.set()

    def _on_connect(self, client: Any) -> None:
        views = self.runs[self.current].views
        pose = views.poses[0].double().numpy()
        client.camera.wxyz = _wxyz(pose[:3, :3] @ FLIP)
        client.camera.position = pose[:3, 3]
        client.camera.fov = 2 * math.atan(0.5 * views.height / views.camera(0).focal)
        with self._lock:
            self._states[client.client_id] = {"version": 1, "rendered": 0, "refined": 0,
                                              "changed": time.perf_counter()}

        def moved(_camera: Any) -> None:
            with self._lock:
                st = self._states.get(client.client_id)
                if st is not None:
                    st["version"] += 1
                    st["changed"] = time.perf_counter()
            self._wake.set()

        client.camera.on_update(moved)
        self._wake.set()

    def _on_disconnect(self, client: Any) -> None:
        with self._lock:
            self._states.pop(client.client_id, None)

    # -- rendering -------------------------------------------------------------------------
    def render_camera(self, camera: Camera) -> dict[str, Any]:
        """Render the current run (a training run: its snapshot's newest weights) for
        ``camera``: ``{"rgb": (H, W, 3), "seconds", "run", "height", "width", "step"}``
        (``step``: the training step of the weights, None for a finished run). Renders are
        serialised, so any thread may call this.
        """
        run = self.runs[self.current]
        with self._render_lock:
            method, step = (run.method, None) if run.snapshot is None else \
                run.snapshot.current()
            out = render_image(method, camera, near=run.views.near, far=run.views.far,
                               chunk=self.chunk, device=self.device)
        return {"rgb": out["rgb"], "seconds": out["seconds"], "run": run.name,
                "height": camera.height, "width": camera.width, "step": step}

    def render(self, client: Any, height: int) -> dict[str, Any]:
        """Render the current run for ``client``'s camera at ``height`` pixels and show it."""
        run = self.runs[self.current]
        cam = viewer_camera(client.camera.wxyz, client.camera.position, client.camera.fov,
                            client.camera.aspect, height, run.views)
        info = self.render_camera(cam)
        client.scene.set_background_image(to_uint8(info.pop("rgb")), format="jpeg",
                                          jpeg_quality=90)
        return info

    def _check_snapshot(self) -> None:
        """New weights of a training run on screen: render again (at full resolution)."""
        snap = self.runs[self.current].snapshot
        if snap is not None and self._seen.get(self.current) != snap.version:
            self._seen[self.current] = snap.version
            self._invalidate()

    def _caption(self, info: dict[str, Any], refined: bool) -> str:
        """The panel's text: run, size, render time and (while training) the step."""
        text = (f"**{info['run']}**  \n{info['width']}×{info['height']} in "
                f"{1000 * info['seconds']:.0f} ms ({1 / max(info['seconds'], 1e-6):.1f} fps)"
                + ("" if refined else ", preview"))
        snap = self.runs[self.current].snapshot
        if snap is not None:
            total = f" of {snap.total}" if snap.total else ""
            text += f"  \ntraining step {snap.latest}{total}; weights of step {info['step']}"
        return text

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._check_snapshot()
            did = False
            for cid, client in list(self.server.get_clients().items()):
                with self._lock:
                    st = dict(self._states.get(cid, {}))
                if not st:
                    continue
                full = int(self.res_slider.value)
                rested = time.perf_counter() - st["changed"] >= self.rest_s
                if st["refined"] != st["version"] and (rested or full <= self.preview):
                    height, key = full, "refined"
                elif st["rendered"] != st["version"]:
                    height, key = min(self.preview, full), "rendered"
                else:
                    continue
                try:
                    info = self.render(client, height)
                except Exception:                       # a client that just left
                    log.exception("viewer: render for client %s failed", cid)
                    continue
                with self._lock:
                    if cid in self._states:
                        self._states[cid]["rendered"] = st["version"]
                        if key == "refined":
                            self._states[cid]["refined"] = st["version"]
                self.frames += 1
                self.last = {**info, "refined": key == "refined"}
                self.status.content = self._caption(info, key == "refined")
                did = True
            if not did:
                self._wake.wait(0.05)
                self._wake.clear()

    def close(self) -> None:
        """Stop the render thread and the server."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.server.stop()
