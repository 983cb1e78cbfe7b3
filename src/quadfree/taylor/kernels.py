"""Symbolic kernels φ(q − p): parsed with sympy, differentiated by sympy, run by NumPy/torch.

A kernel is given as a sympy expression (or a string) in ``x, y`` (2-D) or ``x, y, z`` (3-D),
or as the paper's builder ``lambda pkg: lambda x, y, z: pkg.exp(-5*(x**2 + y**2 + z**2))``.
It must be symmetric, φ(−r) = φ(r); translation invariance is built in (φ acts on q − p).
When φ factors into one function per axis (the Gaussian does), :attr:`Kernel.factors` holds
the factors and the M2L pass can use the separable factorisation (§3.4.1).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp
import torch

from quadfree.errors import QuadfreeError

AXIS_NAMES = ("x", "y", "z")
KernelSpec = "str | sp.Expr | Callable | Kernel"


def _torch_modules() -> list:
    return [{"exp": torch.exp, "sqrt": torch.sqrt, "log": torch.log, "cos": torch.cos,
             "sin": torch.sin, "Abs": torch.abs, "tanh": torch.tanh, "cosh": torch.cosh,
             "atan": torch.atan, "pi": float(np.pi), "E": float(np.e)}, torch]


@dataclass(frozen=True)
class Kernel:
    """A symmetric, translation-invariant kernel φ with its dimension and symbols.

    Attributes:
        expr: the sympy expression φ(x, y[, z]).
        dim: 2 or 3.

    Example:
        >>> k = Kernel.parse("exp(-2*(x**2 + y**2))", dim=2)
        >>> k.separable, round(float(k.torch_fn(torch.tensor([[0.5, 0.0]]))[0]), 6)
        (True, 0.606531)
    """

    expr: sp.Expr
    dim: int
    symbols: tuple[sp.Symbol, ...] = field(repr=False)

    @staticmethod
    def parse(spec: KernelSpec, dim: int | None = None) -> Kernel:
        """Build a :class:`Kernel` from a string, a sympy expression, a builder or a Kernel.

        ``dim`` defaults to 3, or to the builder's number of arguments.

        Example:
            >>> Kernel.parse(lambda pkg: lambda x, y: pkg.exp(-x**2 - y**2)).dim
            2
        """
        if isinstance(spec, Kernel):
            if dim is not None and dim != spec.dim:
                raise QuadfreeError(f"kernel: dimension {spec.dim} does not match dim={dim}")
            return spec
        if callable(spec) and not isinstance(spec, sp.Basic):
            inner = spec(sp)
            nargs = len(inspect.signature(inner).parameters)
            dim = dim or nargs
            if nargs != dim:
                raise QuadfreeError(f"kernel builder takes {nargs} coordinates, dim={dim}")
            syms = sp.symbols(AXIS_NAMES[:dim], real=True)
            expr = sp.sympify(inner(*syms))
        else:
            dim = dim or 3
            if dim not in (2, 3):
                raise QuadfreeError(f"dim={dim}: only 2-D and 3-D expansions are supported")
            syms = sp.symbols(AXIS_NAMES[:dim], real=True)
            try:
                expr = sp.sympify(spec, locals={s.name: s for s in syms})
            except (sp.SympifyError, SyntaxError, TypeError) as exc:
                raise QuadfreeError(f"kernel {spec!r}: not a sympy expression ({exc})") from None
        if dim not in (2, 3):
            raise QuadfreeError(f"dim={dim}: only 2-D and 3-D expansions are supported")
        extra = expr.free_symbols - set(syms)
        if extra:
            names = ", ".join(sorted(s.name for s in extra))
            raise QuadfreeError(f"kernel {expr}: unknown symbol(s) {names}; use "
                                f"{', '.join(AXIS_NAMES[:dim])}")
        kernel = Kernel(expr=expr, dim=dim, symbols=tuple(syms))
        kernel._check_symmetric()
        return kernel

    def _check_symmetric(self) -> None:
        rng = np.random.default_rng(0)
        pts = rng.uniform(-0.5, 0.5, size=(32, self.dim))
        a, b = self.numpy_fn(*pts.T), self.numpy_fn(*(-pts).T)
        a = np.broadcast_to(np.asarray(a, dtype=float), (32,))
        b = np.broadcast_to(np.asarray(b, dtype=float), (32,))
        if not np.all(np.isfinite(a)):
            raise QuadfreeError(f"kernel {self.expr}: not finite near the origin")
        if not np.allclose(a, b, rtol=1e-10, atol=1e-300):
            raise QuadfreeError(f"kernel {self.expr}: not symmetric, φ(−r) ≠ φ(r)")

    @cached_property
    def numpy_fn(self) -> Callable[..., np.ndarray]:
        """φ as a NumPy function of ``dim`` coordinate arrays."""
        return sp.lambdify(self.symbols, self.expr, modules="numpy")

    @cached_property
    def _torch_coords_fn(self) -> Callable[..., torch.Tensor]:
        return sp.lambdify(self.symbols, self.expr, modules=_torch_modules())

    def torch_fn(self, r: torch.Tensor) -> torch.Tensor:
        """φ(r) for ``r`` of shape ``(..., dim)`` → ``(...)``.

        Example:
            >>> Kernel.parse("x**2 + y**2 + z**2").torch_fn(torch.ones(2, 3)).tolist()
            [3.0, 3.0]
        """
        out = self._torch_coords_fn(*r.unbind(-1))
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(out, dtype=r.dtype, device=r.device)
        return out.expand(r.shape[:-1]) if out.shape != r.shape[:-1] else out

    @cached_property
    def factors(self) -> tuple[sp.Expr, ...] | None:
        """One 1-D expression per axis (in that axis's symbol) whose product is φ, or None.

        Example:
            >>> Kernel.parse("exp(-3*(x**2+y**2+z**2))").factors[1]
            exp(-3*y**2)
        """
        parts = sp.separatevars(self.expr, symbols=list(self.symbols), dict=True, force=True)
        if not parts:
            return None
        coeff = parts.get("coeff", 1)
        out = []
        for i, s in enumerate(self.symbols):
            f = sp.sympify(parts.get(s, 1)) * (coeff if i == 0 else 1)
            if f.free_symbols - {s}:
                return None
            out.append(f)
        # verify numerically (separatevars with force=True can be optimistic)
        rng = np.random.default_rng(1)
        pts = rng.uniform(-0.5, 0.5, size=(16, self.dim))
        full = np.broadcast_to(np.asarray(self.numpy_fn(*pts.T), dtype=float), (16,))
        prod = np.ones(16)
        for i, f in enumerate(out):
            fi = sp.lambdify(self.symbols[i], f, modules="numpy")(pts[:, i])
            prod = prod * np.broadcast_to(np.asarray(fi, dtype=float), (16,))
        if not np.allclose(full, prod, rtol=1e-10, atol=1e-300):
            return None
        return tuple(out)

    @property
    def separable(self) -> bool:
        """True when φ factors per axis, so M2L costs 3·6·(ρ+1)·… instead of 6³·P²."""
        return self.factors is not None

    def factor_numpy(self, axis: int) -> Callable[[np.ndarray], np.ndarray]:
        """The 1-D factor of ``axis`` as a NumPy function (requires :attr:`separable`)."""
        if self.factors is None:
            raise QuadfreeError(f"kernel {self.expr} is not separable")
        f = sp.lambdify(self.symbols[axis], self.factors[axis], modules="numpy")
        return lambda t: np.broadcast_to(np.asarray(f(t), dtype=float), np.shape(t))

    def derivative_numpy(self, orders: tuple[int, ...]) -> Callable[..., np.ndarray]:
        """∂^orders φ as a NumPy function of the ``dim`` coordinates (sympy derivative).

        Example:
            >>> d = Kernel.parse("x**2 + y**2", dim=2).derivative_numpy((2, 0))
            >>> float(d(np.array(0.3), np.array(0.1)))
            2.0
        """
        expr = self.expr
        for s, k in zip(self.symbols, orders):
            if k:
                expr = sp.diff(expr, s, k)
        f = sp.lambdify(self.symbols, expr, modules="numpy")
        return lambda *c: np.broadcast_to(np.asarray(f(*c), dtype=float),
                                          np.broadcast(*c).shape)

    @cached_property
    def gaussian_alpha(self) -> float | None:
        """α when φ = exp(−α |r|²) exactly (used by the fast exact-sum path), else None.

        Example:
            >>> Kernel.parse("exp(-200*(x**2+y**2+z**2))").gaussian_alpha
            200.0
        """
        if not isinstance(self.expr, sp.exp):
            return None
        arg = sp.expand(self.expr.args[0])
        r2 = sum(s**2 for s in self.symbols)
        ratio = sp.simplify(arg / r2)
        if ratio.free_symbols or not ratio.is_number or not (ratio < 0):
            return None
        return float(-ratio)

    @property
    def key(self) -> str:
        """A stable text key (for the operator-table cache)."""
        return f"{self.dim}:{sp.srepr(self.expr)}"
