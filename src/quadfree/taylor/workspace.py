"""Scratch buffers that the expansion's CPU passes reuse from one call to the next.

A freshly allocated CPU tensor of tens of MB comes from ``mmap``: every 4 KiB page faults
(and is zeroed by the kernel) when first written, and ``free`` returns it. At level 5 the
finest level's block passes (:func:`quadfree.taylor.compact.sum_cells`) and the compiled
P2M write ≈ 0.3 GB of such fresh intermediates per expansion, whose page faults took about
a quarter of the expansion's time. A :class:`Workspace` keeps one flat buffer per name
(per thread, dtype and device) and hands out views of it; it never hands out memory that a
result keeps (the expansion's coefficients are always fresh).

Only for passes without autograd (a reused buffer must not be saved for a backward pass).
"""

from __future__ import annotations

import math
import threading

import torch


class Workspace:
    """Named scratch buffers, one set per thread, grown on demand and kept between calls.

    Pickling or copying gives an empty workspace.

    Example:
        >>> ws = Workspace()
        >>> a = ws.take("z", (2, 3), torch.float32, torch.device("cpu"))
        >>> b = ws.take("z", (3, 2), torch.float32, torch.device("cpu"))
        >>> a.data_ptr() == b.data_ptr(), b.shape, ws.nbytes()
        (True, torch.Size([3, 2]), 24)
        >>> ws.clear(); ws.nbytes()
        0
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def _bufs(self) -> dict:
        bufs = getattr(self._local, "bufs", None)
        if bufs is None:
            bufs = self._local.bufs = {}
        return bufs

    def take(self, name: str, shape: tuple, dtype: torch.dtype, device: torch.device
             ) -> torch.Tensor:
        """An uninitialised contiguous ``shape`` view of buffer ``name`` (grown if needed).

        The view stays valid until the next :meth:`take` of the same name in this thread.
        Buffers are always allocated as normal tensors (never inference tensors), so a first
        call under ``torch.inference_mode()`` does not break later calls outside it.
        """
        bufs = self._bufs()
        key = (name, dtype, str(device))
        numel = math.prod(shape)
        buf = bufs.get(key)
        if buf is None or buf.numel() < numel:
            bufs.pop(key, None)                       # free the smaller one first
            with torch.inference_mode(False):
                buf = bufs[key] = torch.empty(numel, dtype=dtype, device=device)
        return buf[:numel].view(shape)

    def nbytes(self) -> int:
        """Bytes this thread's buffers hold."""
        return sum(b.numel() * b.element_size() for b in self._bufs().values())

    def clear(self) -> None:
        """Release this thread's buffers."""
        self._bufs().clear()

    def __reduce__(self):
        return (Workspace, ())
