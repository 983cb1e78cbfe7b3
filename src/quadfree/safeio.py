"""Reading untrusted files safely: no code from data files, sizes checked before loading.

Everything quadfree reads from disk goes through here or through the dataset readers that use
these helpers:

* checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain data only,
  plus the NumPy array types that older checkpoints stored their RNG state in (an explicit
  allow-list). A pickle that asks for anything else is refused before it can run;
* NPY arrays: the header is read and checked first (no object dtype, at most
  :data:`MAX_ARRAY_BYTES`, the file holds all the data it claims) and the array is then loaded
  with ``allow_pickle=False``;
* images: the PNG header's size is checked against :data:`MAX_IMAGE_PIXELS` before decoding;
* text files (CSV, angle lists, ``transforms.json``): at most :data:`MAX_TEXT_BYTES`.

Every failure is a :class:`~quadfree.errors.QuadfreeError` whose message is one line naming the
input.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from quadfree.errors import QuadfreeError

# Stated limits on what a reader accepts (documented in the README's "Limits" section).
MAX_ARRAY_BYTES = 1 << 30          # 1 GiB per NPY array
MAX_IMAGE_PIXELS = 4096 * 4096     # per image (PNG or NPY), the largest scene `scene make` writes
MAX_TEXT_BYTES = 64 << 20          # 64 MiB per CSV / JSON / angle list


def one_line(text: object, limit: int = 300) -> str:
    """Collapse ``text`` (e.g. a library's multi-line error) to one line of at most ``limit``
    characters.

    Example:
        >>> one_line("bad file\\n  details here")
        'bad file details here'
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _size_text(nbytes: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes} bytes"


def read_npy_header(path: str | os.PathLike, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Read only the header of an NPY file: ``(shape, dtype)``, without loading the data.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.npy"; np.save(p, np.zeros((3, 2)))
        >>> read_npy_header(p, "a")
        ((3, 2), dtype('float64'))
    """
    fmt = np.lib.format
    try:
        with open(path, "rb") as fh:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(fh)
            else:
                shape, _, dtype = fmt.read_array_header_2_0(fh)
    except Exception as exc:  # numpy raises many types for a corrupt header
        raise QuadfreeError(one_line(f"{name}: not a readable .npy array "
                                     f"({type(exc).__name__}: {exc})")) from None
    return tuple(int(s) for s in shape), np.dtype(dtype)


def load_npy(path: str | os.PathLike, name: str, *, max_bytes: int = MAX_ARRAY_BYTES,
             kinds: str = "biuf") -> np.ndarray:
    """Load an NPY array after checking its header: numeric dtype (``kinds``: NumPy kind
    letters), no Python objects, at most ``max_bytes``, and a file long enough for the data.

    Never unpickles (``allow_pickle=False``).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.npy"; np.save(p, np.arange(3.0))
        >>> load_npy(p, "samples").tolist()
        [0.0, 1.0, 2.0]
    """
    shape, dtype = read_npy_header(path, name)
    if dtype.hasobject:
        raise QuadfreeError(f"{name}: holds Python objects (pickled data); quadfree only loads "
                            "numeric arrays")
    if dtype.kind not in kinds:
        raise QuadfreeError(f"{name}: expected a numeric array, got dtype {dtype}")
    count = int(np.prod(shape, dtype=object)) if shape else 1
    nbytes = count * dtype.itemsize
    if nbytes > max_bytes:
        raise QuadfreeError(f"{name}: header claims shape {shape} of {dtype} "
                            f"({_size_text(nbytes)}), over the limit of {_size_text(max_bytes)}")
    if os.path.getsize(path) < nbytes:
        raise QuadfreeError(f"{name}: file is shorter than its header's shape {shape} needs "
                            "(truncated?)")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises many types for a corrupt file
        raise QuadfreeError(one_line(f"{name}: not a readable .npy array "
                                     f"({type(exc).__name__}: {exc})")) from None


def read_text(path: str | os.PathLike, name: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """Read a UTF-8 text file of at most ``max_bytes``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_text("0,90")
        >>> read_text(p, "angles")
        '0,90'
    """
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise QuadfreeError(f"{name}: {_size_text(size)}, over the limit of "
                                f"{_size_text(max_bytes)} for a text file")
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuadfreeError(one_line(f"{name}: cannot read as text ({exc})")) from None


def read_json_object(path: str | os.PathLike, name: str) -> dict:
    """A JSON file that must hold an object, read within the text limit; a malformed or
    non-object file is one :class:`QuadfreeError` line naming ``name``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.json"; _ = p.write_text('{"a": 1}')
        >>> read_json_object(p, "t.json")
        {'a': 1}
    """
    import json

    try:
        meta = json.loads(read_text(path, name))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise QuadfreeError(one_line(f"{name}: malformed JSON ({exc})")) from None
    if not isinstance(meta, dict):
        raise QuadfreeError(f"{name}: expected a JSON object")
    return meta


def read_image(path: str | os.PathLike, name: str, max_pixels: int = MAX_IMAGE_PIXELS
               ) -> np.ndarray:
    """Decode an image file (PNG, JPEG, …) after checking its header's size against
    ``max_pixels``. Returns the raw array (``(H, W)`` or ``(H, W, C)``, dtype as stored).

    Example:
        >>> import tempfile, pathlib, imageio.v3 as iio
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.png"
        >>> iio.imwrite(p, np.zeros((2, 3), np.uint8))
        >>> read_image(p, "image").shape
        (2, 3)
    """
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # PIL's decompression-bomb warning
            with Image.open(path) as img:
                width, height = img.size
            if width * height > max_pixels:
                raise QuadfreeError(f"{name}: {width}x{height} pixels, over the limit of "
                                    f"{max_pixels} pixels per image")
            import imageio.v3 as iio

            return np.asarray(iio.imread(path, plugin="pillow"))
    except QuadfreeError:
        raise
    except Exception as exc:  # PIL and imageio raise many types for bad files
        raise QuadfreeError(one_line(f"{name}: cannot read image ({type(exc).__name__}: "
                                     f"{exc})")) from None


def _numpy_allow_list() -> list[Any]:
    """NumPy globals that ``np.random.get_state()`` arrays need when pickled (checkpoints
    written before quadfree stored RNG states as tensors)."""
    from numpy._core.multiarray import _reconstruct

    allowed: list[Any] = [_reconstruct, np.ndarray, np.dtype]
    allowed += [type(np.dtype(t)) for t in ("uint32", "int64", "float64", "uint8")]
    return allowed


def torch_load(path: str | os.PathLike, name: str, map_location: Any = "cpu") -> Any:
    """``torch.load`` that never runs code: ``weights_only=True`` with an explicit allow-list
    (tensors, plain Python data, NumPy arrays of numbers).

    A file that needs anything else (a crafted pickle, a pickled class) is refused with one
    line; nothing in it is executed.

    Example:
        >>> import tempfile, pathlib, torch
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.pt"; torch.save({"step": 1}, p)
        >>> torch_load(p, "checkpoint")
        {'step': 1}
    """
    import warnings

    import torch

    try:
        with torch.serialization.safe_globals(_numpy_allow_list()), warnings.catch_warnings():
            warnings.simplefilter("ignore")     # e.g. "pickle protocol 4": the error says it
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).split("\n")
        what = next((line.strip() for line in first if "GLOBAL" in line or "global" in line),
                    None)
        if what is None:        # not a pickle of objects at all: a corrupt or foreign file
            raise QuadfreeError(one_line(f"{name}: unreadable (not a readable checkpoint: "
                                         f"{first[-1].strip() or first[0]})")) from None
        raise QuadfreeError(one_line(
            f"{name}: refused to load: it holds objects other than tensors and plain data "
            f"({what}); quadfree never unpickles code from a file. If you made this file "
            "yourself with an old version, retrain or re-save it with plain tensors")) from None
    except Exception as exc:  # torch raises several types for corrupt files
        raise QuadfreeError(one_line(f"{name}: unreadable (not a readable checkpoint: "
                                     f"{type(exc).__name__}: {exc})")) from None


def load_checkpoint(path: str | os.PathLike, keys: tuple[str, ...], kind: str,
                    param: str | None = None) -> dict:
    """A checkpoint dict holding ``keys``, read through :func:`torch_load`; a missing, unreadable
    or foreign file is one :class:`QuadfreeError` (naming ``param`` when given); ``kind`` is
    worded with its article, e.g. ``"an sdf"``.

    Example:
        >>> load_checkpoint("/nonexistent/ckpt.pt", ("model",), "an sdf")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: checkpoint /nonexistent/ckpt.pt: not found
    """
    path = Path(path)
    if not path.is_file():
        raise QuadfreeError(f"checkpoint {path}: not found", param=param)
    try:
        state = torch_load(path, f"checkpoint {path}")
    except QuadfreeError as exc:
        raise QuadfreeError(str(exc), param=param) from None
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise QuadfreeError(f"checkpoint {path}: not {kind} checkpoint", param=param)
    return state

