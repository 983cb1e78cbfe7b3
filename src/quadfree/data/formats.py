"""Dataset format detection and the one loader behind ``--data DIR``.

Detection rule (first match wins), by the files in the dataset directory:

1. ``transforms_train.json`` → ``blender`` (NeRF synthetic: one JSON per split);
2. ``transforms.json`` → ``nerfstudio`` (nerfstudio / instant-ngp);
3. ``poses_bounds.npy`` → ``llff`` (forward-facing captures, NDC rays).
"""

from __future__ import annotations

from pathlib import Path

from quadfree.data.blender import load_blender
from quadfree.data.llff import POSES_NAME, load_llff
from quadfree.data.nerfstudio import META_NAME, load_nerfstudio
from quadfree.data.views import ViewSet
from quadfree.errors import QuadfreeError

FORMATS = ("blender", "nerfstudio", "llff")
_MARKERS = (("transforms_train.json", "blender"), (META_NAME, "nerfstudio"),
            (POSES_NAME, "llff"))


def detect_format(root: str | Path) -> str:
    """The format of dataset directory ``root`` (rule in the module docstring).

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp()); _ = (root / "transforms.json").write_text("{}")
        >>> detect_format(root)
        'nerfstudio'
    """
    root = Path(root)
    if not root.is_dir():
        raise QuadfreeError(f"{root}: dataset directory not found")
    for marker, name in _MARKERS:
        if (root / marker).is_file():
            return name
    raise QuadfreeError(f"{root}: not a dataset directory: expected transforms_train.json "
                        f"(Blender), {META_NAME} (nerfstudio / instant-ngp) or {POSES_NAME} "
                        "(LLFF)")


def has_split(root: str | Path, split: str, fmt: str | None = None) -> bool:
    """Whether the dataset has ``split``: Blender needs its ``transforms_<split>.json``; the
    other formats derive every split from one file.

    Example:
        >>> import tempfile
        >>> has_split(tempfile.mkdtemp(), "val", "llff")
        True
    """
    fmt = fmt or detect_format(root)
    return fmt != "blender" or Path(root, f"transforms_{split}.json").is_file()


def load_views(root: str | Path, split: str = "train", *, format: str | None = None,
               downscale: int = 1, near: float | None = None, far: float | None = None,
               max_frames: int | None = None, ndc: bool = True) -> ViewSet:
    """Load ``split`` of a dataset in any supported format as a :class:`ViewSet`.

    Args:
        root: dataset directory; format: one of :data:`FORMATS` (None: detected).
        downscale, near, far, max_frames: as for each reader (near/far None: the format's
            default: Blender 2 and 6, nerfstudio from the cameras, LLFF from the file / NDC).
        ndc: LLFF only: normalized device coordinates (forward-facing scenes).

    Example:
        >>> load_views("/no/such/dir")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /no/such/dir: dataset directory not found
    """
    fmt = format or detect_format(root)
    if fmt not in FORMATS:
        raise QuadfreeError(f"format {fmt!r}: choose from {list(FORMATS)}", param="format")
    common = {"downscale": downscale, "near": near, "far": far, "max_frames": max_frames}
    if fmt == "blender":
        return load_blender(root, split, **common)
    if fmt == "nerfstudio":
        return load_nerfstudio(root, split, **common)
    return load_llff(root, split, ndc=ndc, **common)
