"""Where commands write: checks before the work, no overwriting, one writer per run, staging.

* :func:`check_output_file` / :func:`prepare_output_dir` check an output location *before* any
  work (its folder can be written; an existing folder is empty, holds only this command's own
  earlier output, or ``overwrite`` is given), so a mistake costs nothing;
* :func:`output_lock` makes two processes writing the same run or dataset at once impossible
  (the second gets one clear refusal);
* :func:`staging_dir` and :func:`publish_dir` let a new run directory appear only once it is
  complete (the trainer publishes it with its first checkpoint);
* :func:`os_error_message` turns a disk error (no space, read-only, permission) into one line.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import fnmatch
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from quadfree.errors import QuadfreeError

# errno values that mean "the disk or its permissions refused the write": a user's problem.
DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG}


def os_error_message(exc: BaseException, where: str | os.PathLike | None = None
                     ) -> str | None:
    """One line for a disk error (no space, read-only, permission, quota), else None;
    ``where`` names the output when the error does not name its file.

    Example:
        >>> os_error_message(OSError(28, "No space left on device", "/mnt/x"))
        'cannot write /mnt/x: No space left on device'
        >>> os_error_message(ValueError("x")) is None
        True
    """
    if not isinstance(exc, OSError) or exc.errno not in DISK_ERRNOS:
        return None
    where = exc.filename or where or "the output"
    reason = exc.strerror or os.strerror(exc.errno)
    return f"cannot write {where}: {reason}"


def _existing_ancestor(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


def check_writable(path: str | os.PathLike, name: str) -> None:
    """Check that ``path`` (a file or folder to be created) can be written: its nearest existing
    folder accepts a new file. ``name`` names the parameter in the error.

    Example:
        >>> import tempfile
        >>> check_writable(Path(tempfile.mkdtemp()) / "new" / "out.json", "json")
    """
    path = Path(path)
    # an existing file is replaced (atomically): what must accept a new file is its folder
    base = _existing_ancestor(path.parent if path.is_file() else path)
    if not base.is_dir():
        raise QuadfreeError(f"{name} {path}: {base} is a file, not a folder", param=name)
    try:
        with tempfile.TemporaryFile(dir=base, prefix=".quadfree-write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QuadfreeError(f"{name} {path}: cannot write in {base} ({reason})",
                            param=name) from None


def check_output_file(path: str | os.PathLike, name: str) -> Path:
    """Check before the work that file ``path`` can be written (not a folder; its folder is
    writable). Returns it as a :class:`Path`.

    Example:
        >>> import tempfile
        >>> check_output_file(Path(tempfile.mkdtemp()) / "r.json", "json").suffix
        '.json'
    """
    path = Path(path)
    if path.is_dir():
        raise QuadfreeError(f"{name} {path}: is a folder; give a file name", param=name)
    check_writable(path, name)
    return path


def _only_own(folder: Path, own: Iterable[str]) -> bool:
    patterns = list(own)
    return bool(patterns) and all(any(fnmatch.fnmatch(p.name, pat) for pat in patterns)
                                  for p in folder.iterdir())


def prepare_output_dir(path: str | os.PathLike, name: str, *, overwrite: bool = False,
                       own: Iterable[str] = (), hint: str = "overwrite=True",
                       hint_params: tuple[str, ...] = ()) -> Path:
    """Check an output folder before the work: writable, and either absent, empty, holding only
    files matching the ``own`` patterns (this command's earlier output, replaced whole) or
    ``overwrite`` given. ``hint`` is how the caller lets the user overwrite (a CLI passes its
    flag). Creates nothing. Returns the path. ``name`` is the parameter the errors name
    (``param=name``: the CLI shows its flag), with ``hint_params``, the parameters ``hint``
    names.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "keep.txt").write_text("x")
        >>> prepare_output_dir(d, "out")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: out ...: exists and is not empty (1 entry, e.g. ...
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise QuadfreeError(f"{name} {path}: exists and is not a folder", param=name)
    if path.is_dir() and not overwrite:
        entries = sorted(p.name for p in path.iterdir())
        if entries and not _only_own(path, own):
            raise QuadfreeError(f"{name} {path}: exists and is not empty ({len(entries)} "
                                f"{'entry' if len(entries) == 1 else 'entries'}, e.g. "
                                f"{entries[0]}); choose a new folder or pass "
                                f"{hint} to replace it", param=(name, *hint_params))
    check_writable(path, name)
    return path


@contextlib.contextmanager
def output_lock(path: str | os.PathLike, name: str) -> Iterator[None]:
    """Hold an exclusive lock on output ``path`` (a lock file ``.NAME.lock`` beside it) for
    the duration; a second process asking for the same path gets a :class:`QuadfreeError`
    at once instead of writing into the same place.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "run"
        >>> with output_lock(target, "out"):
        ...     pass
    """
    path = Path(os.path.abspath(path))
    lock = path.with_name(f".{path.name}.lock")
    check_writable(path, name)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise QuadfreeError(f"{name} {path}: another quadfree process is writing there "
                                f"now (lock {lock}); wait for it or choose another folder",
                                param=name) from None
        try:                      # the holder before us may have removed the file meanwhile
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def remove_stale_staging(target: str | os.PathLike) -> None:
    """Remove the hidden work folders that a killed earlier run into ``target`` left beside it
    (call while holding :func:`output_lock` for ``target``).

    Example:
        >>> import tempfile
        >>> remove_stale_staging(Path(tempfile.mkdtemp()) / "run")
    """
    target = Path(os.path.abspath(target))
    if not target.parent.is_dir():
        return
    for p in target.parent.glob(f".{target.name}.*"):
        if p.is_dir() and not p.name.endswith(".lock"):
            shutil.rmtree(p, ignore_errors=True)


def staging_dir(target: str | os.PathLike) -> Path:
    """A new hidden folder beside ``target`` to build it in (see :func:`publish_dir`).

    Example:
        >>> import tempfile
        >>> staging_dir(Path(tempfile.mkdtemp()) / "run").name.startswith(".run.partial-")
        True
    """
    target = Path(os.path.abspath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)        # mkdtemp makes 0700
    return tmp


def publish_dir(staging: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Move the complete folder ``staging`` to ``target``, replacing an existing ``target``
    whole (renames on one filesystem: a reader sees the old folder or the new one).

    Example:
        >>> import tempfile
        >>> s = staging_dir(Path(tempfile.mkdtemp()) / "run")
        >>> publish_dir(s, s.parent / "run").name
        'run'
    """
    staging, target = Path(staging), Path(target)
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
    return target


def write_image(path: str | os.PathLike, image, extension: str | None = None, **kwargs) -> Path:
    """Encode ``image`` (an array, or a stack of frames for GIF/MP4) in memory with imageio and
    write the bytes to ``path`` with one plain file write. A full or read-only disk then fails
    in that one write, and imageio never holds a half-written file of its own (whose clean-up
    would print a second traceback when the disk is full).

    Example:
        >>> import numpy as np, tempfile
        >>> p = write_image(Path(tempfile.mkdtemp()) / "a.png", np.zeros((2, 2, 3), np.uint8))
        >>> p.read_bytes()[:4]
        b'\x89PNG'
    """
    import imageio.v3 as iio

    path = Path(path)
    data = iio.imwrite("<bytes>", image, extension=extension or path.suffix, **kwargs)
    path.write_bytes(data)
    return path

