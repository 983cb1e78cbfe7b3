"""Video writing: MP4 through imageio-ffmpeg (read back and compared), GIF, the fallback."""

import sys

import imageio.v3 as iio
import numpy as np
import pytest

from quadfree.errors import QuadfreeError
from quadfree.images import write_video


def _frames(t=6, h=15, w=22):
    """Smooth frames (H.264 is lossy; flat colour ramps survive it to a few levels)."""
    y, x = np.mgrid[0:h, 0:w]
    return [np.stack([(x * 255 // (w - 1) + 20 * k) % 256, y * 255 // (h - 1),
                      np.full_like(x, 40 * k % 256)], -1).astype(np.uint8) for k in range(t)]


def test_mp4_is_written_and_readable(tmp_path):
    frames = _frames()
    path = write_video(tmp_path / "v.mp4", frames, fps=5)
    assert path == tmp_path / "v.mp4" and path.read_bytes()[4:8] == b"ftyp"
    back = iio.imread(path, extension=".mp4")
    assert back.shape == (6, 16, 22, 3)                  # odd height padded by one edge row
    want = np.stack(frames).astype(float)
    err = np.abs(back[:, :15] - want).mean()              # mean error in 8-bit levels
    wrong = np.abs(back[:, :15] - np.roll(want, 1, axis=0)).mean()   # frames out of order
    assert err < 12.0 and wrong > 3 * err, (err, wrong)
    meta = iio.immeta(path, extension=".mp4")
    assert meta["fps"] == pytest.approx(5.0)


def test_gif_and_fallback(tmp_path, monkeypatch, caplog):
    frames = _frames(t=3)
    gif = iio.imread(write_video(tmp_path / "v.gif", frames), index=None)
    assert gif.shape[:3] == (3, 15, 22)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    path = write_video(tmp_path / "w.mp4", frames)
    assert path.suffix == ".gif" and path.is_file() and not (tmp_path / "w.mp4").exists()
    assert "imageio-ffmpeg" in caplog.text


def test_bad_video_requests(tmp_path):
    with pytest.raises(QuadfreeError, match="must end in .gif or .mp4"):
        write_video(tmp_path / "v.avi", _frames(t=1))
    with pytest.raises(QuadfreeError, match="no frames"):
        write_video(tmp_path / "v.mp4", [])
