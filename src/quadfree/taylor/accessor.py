"""The numpy-like accessor of §3.2: ``S[b, c, x, y, z]``, ``S.vol[...]``, ``S.partials[...]``.

Batch and channel indices behave like NumPy indices (int, slice, list). Each spatial index is
a float, a 1-D tensor / list of floats or a slice read as *linspace*: ``a:b:c`` is
``linspace(a, b, c)`` and ``::c`` is ``linspace(−1, 1, c)``. Spatial indices broadcast
together (``S[...]``) or form a meshgrid (``S.vol[...]``, where a float counts as length 1).
``S.partials`` appends the d gradient components, ``S.partials2`` the d(d+1)/2 second
derivatives (xx, xy, xz, yy, yz, zz). Results are differentiable with respect to tensor
query coordinates.
"""

from __future__ import annotations

import torch

from quadfree.errors import QuadfreeError


def _spatial(value, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(value, slice):
        lo = -1.0 if value.start is None else float(value.start)
        hi = 1.0 if value.stop is None else float(value.stop)
        if value.step is None or int(value.step) < 1:
            raise QuadfreeError(f"{name} {value}: a spatial slice needs a point count, "
                                "e.g. -1:1:128 or ::128")
        return torch.linspace(lo, hi, int(value.step), dtype=dtype, device=device)
    if isinstance(value, torch.Tensor):
        t = value.to(dtype=dtype, device=device)
    else:
        try:
            t = torch.as_tensor(value, dtype=dtype, device=device)
        except (TypeError, ValueError, RuntimeError):
            raise QuadfreeError(f"{name} {value!r}: expected a float, a 1-D tensor or a "
                                "slice") from None
    if t.dim() > 1:
        raise QuadfreeError(f"{name}: {t.dim()}-D index; use floats, 1-D tensors or slices")
    return t


def _keep_dim(index):
    """A NumPy-style index that keeps its dimension, and whether to squeeze it afterwards."""
    if isinstance(index, int):
        return slice(index, index + 1 if index != -1 else None), True
    return index, False


class _View:
    def __init__(self, expansion, mode: str, vol: bool) -> None:
        self._e, self._mode, self._vol = expansion, mode, vol

    @property
    def vol(self) -> _View:
        """Meshgrid queries: each spatial index becomes its own output dimension."""
        return _View(self._e, self._mode, True)

    @property
    def partials(self) -> _View:
        """Gradient queries: a trailing dimension of size d."""
        return _View(self._e, "grad", self._vol)

    @property
    def partials2(self) -> _View:
        """Second-derivative queries: a trailing dimension of size d(d+1)/2."""
        return _View(self._e, "hess", self._vol)

    def __getitem__(self, key) -> torch.Tensor:
        e = self._e
        d = e.dim
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            pos = key.index(Ellipsis)
            fill = 2 + d - (len(key) - 1)
            if fill < 0:
                raise QuadfreeError(f"index: too many entries for a (B, C) + {d}-D expansion")
            key = key[:pos] + (slice(None),) * fill + key[pos + 1:]
        if len(key) != 2 + d:
            raise QuadfreeError(f"index: expected {2 + d} entries (batch, channel and {d} "
                                f"spatial), got {len(key)}")
        (bi, sq_b), (ci, sq_c) = _keep_dim(key[0]), _keep_dim(key[1])
        try:
            coeffs = e.coeffs[bi][:, ci]
        except (IndexError, TypeError) as exc:
            raise QuadfreeError(f"index: bad batch/channel index ({exc})") from None
        names = ("x", "y", "z")[:d]
        axes = [_spatial(v, f"index {n}", e.coeffs.dtype, e.coeffs.device)
                for v, n in zip(key[2:], names)]
        if self._vol:
            grids = torch.meshgrid(*[a.reshape(-1) for a in axes], indexing="ij")
            shape = grids[0].shape
            pts = torch.stack([g.reshape(-1) for g in grids], -1)
        else:
            try:
                bc = torch.broadcast_tensors(*axes)
            except RuntimeError:
                raise QuadfreeError("index: spatial indices of shapes "
                                    f"{[tuple(a.shape) for a in axes]} do not broadcast; "
                                    "use .vol for a meshgrid") from None
            shape = bc[0].shape
            pts = torch.stack([a.reshape(-1) for a in bc], -1)
        sub = type(e)(coeffs=coeffs, order=e.order, clamp=e.clamp)
        if self._mode == "value":
            out = sub.evaluate(pts)
            out = out.reshape(out.shape[:2] + shape)
        else:
            out = sub.gradient(pts) if self._mode == "grad" else sub.hessian(pts)
            out = out.reshape(out.shape[:2] + shape + out.shape[-1:])
        if sq_c:
            out = out.squeeze(1)
        if sq_b:
            out = out.squeeze(0)
        return out


class Accessor(_View):
    """Query an :class:`~quadfree.taylor.expansion.Expansion` like a 5-D array.

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> E = FC2T2("exp(-20*(x**2+y**2+z**2))", levels=1, order=2).expand(
        ...     torch.zeros(2, 1, 3), torch.ones(2, 3, 1))
        >>> S = E.S
        >>> S[0, 0, 0., 0., 0.].shape, S[:, :, 0., 0., 0.].shape
        (torch.Size([]), torch.Size([2, 3]))
        >>> S[0, 0, ::5, ::5, ::5].shape, S.vol[..., -1:1:4, -1:1:6, 0.].shape
        (torch.Size([5]), torch.Size([2, 3, 4, 6, 1]))
        >>> S.partials[..., 0., 0., 0.].shape, S.partials2[..., 0., 0., 0.].shape
        (torch.Size([2, 3, 3]), torch.Size([2, 3, 6]))
        >>> S.partials.vol[0, 0, ::4, ::3, 0.].shape
        torch.Size([4, 3, 1, 3])
    """

    def __init__(self, expansion) -> None:
        super().__init__(expansion, "value", False)
