"""1-D signals to integrate: built-ins with exact antiderivatives, or samples from a file.

A signal knows its domain, its values, and a *reference* integral over any interval: exact for
the built-ins, the trapezoid rule on the samples for user data (the integral of their
piecewise-linear interpolant). ``quadfree integrate`` fits AutoInt to one and compares.

Example:
    >>> s = builtin_signal("cos")
    >>> s.domain, round(float(s.reference_integral([0.0], [np.pi / 20])[0]), 6)
    ((-1.0, 1.0), 0.1)
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf

from quadfree.errors import QuadfreeError
from quadfree.safeio import load_npy, one_line, read_text

Array = np.ndarray


def _log_cosh(z: Array) -> Array:
    z = np.abs(z)
    return z + np.log1p(np.exp(-2 * z)) - math.log(2.0)


@dataclass(frozen=True)
class AnalyticSignal:
    """A signal f with a closed-form antiderivative F on a domain.

    Shapes: ``values(x)``: ``(N,) -> (N,)``; ``reference_integral(a, b)``: ``(M,), (M,) -> (M,)``.

    Example:
        >>> s = builtin_signal("poly")
        >>> float(s.reference_integral([0.0], [1.0])[0])         # ∫_0^1 x³ − x + 0.5
        0.25
    """

    name: str
    formula: str
    f: Callable[[Array], Array]
    antiderivative: Callable[[Array], Array]
    domain: tuple[float, float] = (-1.0, 1.0)
    reference_name: str = "exact"

    def values(self, x: Array) -> Array:
        """f(x) in float64."""
        return self.f(np.asarray(x, dtype=np.float64))

    def reference_integral(self, a: Sequence[float] | Array, b: Sequence[float] | Array) -> Array:
        """Exact ``∫_a^b f`` per row: F(b) − F(a) in float64."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return self.antiderivative(b) - self.antiderivative(a)

    def training_samples(self, n: int = 1 << 14) -> tuple[Array, Array]:
        """``n`` evenly spaced samples ``(x, f(x))`` over the domain."""
        x = np.linspace(*self.domain, n)
        return x, self.values(x)

    def with_domain(self, lo: float, hi: float) -> AnalyticSignal:
        """The same signal on another domain ``[lo, hi]`` (lo < hi, both finite)."""
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise QuadfreeError(f"domain {lo},{hi}: need finite lo < hi", param="domain")
        return AnalyticSignal(self.name, self.formula, self.f, self.antiderivative, (lo, hi))


_GAUSS_SIGMA = 0.2

BUILTINS: dict[str, AnalyticSignal] = {
    "poly": AnalyticSignal("poly", "x³ − x + 0.5",
                           lambda x: x ** 3 - x + 0.5,
                           lambda x: x ** 4 / 4 - x ** 2 / 2 + 0.5 * x),
    "cos": AnalyticSignal("cos", "cos(10x)",
                          lambda x: np.cos(10 * x), lambda x: np.sin(10 * x) / 10),
    "step": AnalyticSignal("step", "tanh(10x) (smooth step)",
                           lambda x: np.tanh(10 * x), lambda x: _log_cosh(10 * x) / 10),
    "gauss": AnalyticSignal("gauss", "exp(−x²/(2·0.2²)) (Gaussian bump)",
                            lambda x: np.exp(-x ** 2 / (2 * _GAUSS_SIGMA ** 2)),
                            lambda x: _GAUSS_SIGMA * math.sqrt(math.pi / 2)
                            * erf(x / (_GAUSS_SIGMA * math.sqrt(2)))),
    "cosmix": AnalyticSignal("cosmix", "cos(20x) + 0.5x² (the benchmark signal)",
                             lambda x: np.cos(20 * x) + 0.5 * x ** 2,
                             lambda x: np.sin(20 * x) / 20 + x ** 3 / 6),
}


def builtin_signal(name: str) -> AnalyticSignal:
    """A built-in signal by name: one of :data:`BUILTINS`.

    Example:
        >>> builtin_signal("gauss").formula
        'exp(−x²/(2·0.2²)) (Gaussian bump)'
    """
    try:
        return BUILTINS[name]
    except KeyError:
        raise QuadfreeError(f"signal {name!r}: unknown; choose from "
                            f"{', '.join(sorted(BUILTINS))}", param="signal") from None


@dataclass(frozen=True)
class SampledSignal:
    """A signal given by samples ``(x_i, y_i)``, x strictly increasing; between samples it is
    the linear interpolant, so its reference integral is the trapezoid rule.

    Shapes: ``x, y``: ``(N,)``.

    Example:
        >>> s = SampledSignal("s", np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]))
        >>> s.reference_integral([0.0, 0.5], [2.0, 1.0]).tolist()
        [1.0, 0.375]
    """

    name: str
    x: Array
    y: Array
    reference_name: str = "trapezoid"

    @property
    def domain(self) -> tuple[float, float]:
        return float(self.x[0]), float(self.x[-1])

    @property
    def formula(self) -> str:
        return f"{len(self.x)} samples from {self.name}"

    def values(self, x: Array) -> Array:
        """The piecewise-linear interpolant at x (float64)."""
        return np.interp(np.asarray(x, dtype=np.float64), self.x, self.y)

    def training_samples(self, n: int | None = None) -> tuple[Array, Array]:
        """The samples themselves (``n`` is ignored: the data are what they are)."""
        return self.x, self.y

    def _cumulative(self, t: Array) -> Array:
        cum = np.concatenate([[0.0], np.cumsum(np.diff(self.x) * (self.y[1:] + self.y[:-1]) / 2)])
        i = np.clip(np.searchsorted(self.x, t, side="right") - 1, 0, len(self.x) - 2)
        yt = self.values(t)
        return cum[i] + (t - self.x[i]) * (self.y[i] + yt) / 2

    def reference_integral(self, a: Sequence[float] | Array, b: Sequence[float] | Array) -> Array:
        """``∫_a^b`` of the linear interpolant (the trapezoid rule on the samples)."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return self._cumulative(b) - self._cumulative(a)


def load_samples(path: str | os.PathLike) -> SampledSignal:
    """Read ``x, y`` samples from a CSV (two columns, optional header line) or NPY ``(N, 2)``.

    Every problem raises :class:`QuadfreeError` naming the file: missing or unreadable file,
    unknown format, empty file, wrong number of columns, non-numeric or non-finite values,
    fewer than two samples, x not strictly increasing (unsorted or repeated).

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "s.csv"
        >>> _ = p.write_text("x,y\\n0,1\\n1,3\\n")
        >>> load_samples(p).reference_integral([0.0], [1.0]).tolist()
        [2.0]
    """
    path = Path(path)
    label = f"data {path}"
    if not path.is_file():
        raise QuadfreeError(f"{label}: no such file", param="data")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = _read_npy(path, label)
    elif suffix in (".csv", ".txt"):
        data = _read_csv(path, label)
    else:
        raise QuadfreeError(f"{label}: unknown format {path.suffix!r} (use .csv or .npy)",
                            param="data")
    return validate_samples(data, label, name=path.name)


def validate_samples(data: Array, label: str, name: str = "data") -> SampledSignal:
    """Check an ``(N, 2)`` array of ``x, y`` rows and wrap it as a :class:`SampledSignal`.

    Example:
        >>> validate_samples(np.array([[0.0, 1.0], [0.0, 2.0]]), "demo")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: demo: x = 0 repeats at rows 1 and 2
    """
    if data.size == 0:
        raise QuadfreeError(f"{label}: empty (no samples)", param="data")
    if data.ndim != 2 or data.shape[1] != 2:
        cols = data.shape[1] if data.ndim == 2 else None
        what = f"{cols} columns" if cols is not None else f"an array of shape {data.shape}"
        raise QuadfreeError(f"{label}: expected 2 columns (x, y), got {what}", param="data")
    finite = np.isfinite(data)
    if not finite.all():
        row = int(np.argwhere(~finite)[0, 0]) + 1
        raise QuadfreeError(f"{label}: {int((~finite).sum())} non-finite value(s) (NaN or Inf), "
                            f"first at row {row}", param="data")
    if len(data) < 2:
        raise QuadfreeError(f"{label}: need at least 2 samples, got {len(data)}", param="data")
    x, y = data[:, 0].copy(), data[:, 1].copy()
    dx = np.diff(x)
    if (dx <= 0).any():
        i = int(np.argmax(dx <= 0))
        if dx[i] == 0:
            raise QuadfreeError(f"{label}: x = {x[i]:g} repeats at rows {i + 1} and {i + 2}",
                                param="data")
        raise QuadfreeError(f"{label}: x is not sorted: x = {x[i + 1]:g} at row {i + 2} comes "
                            f"after x = {x[i]:g}", param="data")
    return SampledSignal(name, x, y)


def _read_npy(path: Path, label: str) -> Array:
    try:
        data = load_npy(path, label, kinds="iuf")
    except QuadfreeError as exc:               # the message starts with "data PATH"
        raise QuadfreeError(str(exc), param="data") from None
    return data.astype(np.float64)


def _read_csv(path: Path, label: str) -> Array:
    try:
        text = read_text(path, label)
    except QuadfreeError as exc:
        raise QuadfreeError(str(exc), param="data") from None
    try:
        return _parse_csv(text, label)
    except csv.Error as exc:
        raise QuadfreeError(one_line(f"{label}: not a CSV file ({exc})"), param="data") from None


def _parse_csv(text: str, label: str) -> Array:
    rows = []
    first = True
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [c.strip() for c in row]
        if not cells or all(c == "" for c in cells) or cells[0].startswith("#"):
            continue
        if len(cells) != 2:
            raise QuadfreeError(f"{label}: line {lineno}: expected 2 columns (x, y), "
                                f"got {len(cells)}", param="data")
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if first:                   # a header line such as "x,y"
                first = False
                continue
            raise QuadfreeError(one_line(f"{label}: line {lineno}: not a number in "
                                         f"{','.join(cells)!r}"), param="data") from None
        first = False
        rows.append(values)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2) if rows else np.empty((0, 2))


def check_intervals(intervals: Sequence[tuple[float, float]], domain: tuple[float, float]
                    ) -> Array:
    """Check that every ``(a, b)`` has ``lo ≤ a < b ≤ hi``; return them as ``(M, 2)``.

    Example:
        >>> check_intervals([(0.0, 2.0)], (-1.0, 1.0))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: interval 0,2: outside the domain [-1, 1]
    """
    lo, hi = domain
    for a, b in intervals:
        name = f"interval {a:g},{b:g}"
        if not (math.isfinite(a) and math.isfinite(b)):
            raise QuadfreeError(f"{name}: ends must be finite", param="interval")
        if not a < b:
            raise QuadfreeError(f"{name}: need a < b", param="interval")
        if a < lo or b > hi:
            raise QuadfreeError(f"{name}: outside the domain [{lo:g}, {hi:g}]", param="interval")
    return np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
