"""The FC²T² expansion: build it from sources and weights, evaluate it and its derivatives.

:class:`FC2T2` holds a kernel, the number of levels and the order, plus the cached operator
tables; ``FC2T2(...).expand(p, w)`` runs P2M → M2M → M2L → L2L and returns an
:class:`Expansion`: one polynomial of total degree ≤ ρ per finest cell, which approximates
``f(q) = Σ_n φ(q − p_n) w_n`` everywhere in [−1, 1]^d. Later layers (explicit, root- and
integral-implicit) read :attr:`Expansion.coeffs` or :meth:`Expansion.monomial_coefficients`
and evaluate or differentiate at arbitrary points.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from quadfree.errors import QuadfreeError, check_finite
from quadfree.taylor import compact, passes, scatter
from quadfree.taylor.kernels import Kernel
from quadfree.taylor.legendre import monomial_coefficients
from quadfree.taylor.multiindex import MAX_ORDER, multi_indices, num_coefficients
from quadfree.taylor.operators import cells_per_axis, get_tables
from quadfree.taylor.workspace import Workspace

EVAL_CHUNK = 1 << 17


@contextmanager
def _no_timer(name: str, flops: int):
    yield


def check_points(name: str, x: torch.Tensor, dim: int, clamp: bool = False) -> torch.Tensor:
    """Validate points ``(..., dim)`` in [−1, 1]^dim; clamp them instead if ``clamp``.

    Raises :class:`QuadfreeError` naming ``name`` for a wrong last dimension, NaN/Inf or a
    point outside the domain.

    Example:
        >>> check_points("q", torch.zeros(2, 3), 3).shape
        torch.Size([2, 3])
    """
    if not isinstance(x, torch.Tensor):
        raise QuadfreeError(f"{name}: expected a torch tensor, got {type(x).__name__}")
    if x.dim() < 1 or x.shape[-1] != dim:
        raise QuadfreeError(f"{name}: shape {tuple(x.shape)} must end in {dim} coordinates")
    if not x.is_floating_point():
        raise QuadfreeError(f"{name}: dtype {x.dtype} is not floating point")
    check_finite(name, x)
    if clamp:
        return x.clamp(-1.0, 1.0)
    if x.numel() and x.detach().abs().max() > 1.0:
        bad = int((x.detach().abs() > 1.0).any(-1).sum())
        raise QuadfreeError(f"{name}: {bad} point(s) outside the domain [-1, 1]^{dim} "
                            "(pass clamp=True to clamp them)")
    return x


@dataclass
class Expansion:
    """Per-cell polynomials on the finest grid of an FC²T² expansion.

    Attributes:
        coeffs: ``(B, C, n, …, n, P)`` coefficients of the orthonormal Legendre products
            ``E_k(u)`` in each cell's local coordinate ``u = (x − centre)/(h/2) ∈ [−1, 1]^d``.
        order: ρ. ``n`` cells per axis, ``h = 2/n``.
        clamp: clamp query points into the domain instead of raising.

    Example:
        >>> S = FC2T2("exp(-8*(x**2+y**2))", levels=2, order=4, dim=2)
        >>> E = S.expand(torch.zeros(1, 1, 2), torch.ones(1, 1, 1))
        >>> round(float(E(torch.tensor([[0.25, 0.0]]))[0, 0, 0]), 3)   # exp(-0.5)
        0.607
    """

    coeffs: torch.Tensor
    order: int
    clamp: bool = False

    @property
    def dim(self) -> int:
        return self.coeffs.dim() - 3

    @property
    def n(self) -> int:
        """Cells per axis of the finest grid (e.g. 64 at level 5)."""
        return self.coeffs.shape[2]

    @property
    def cell_width(self) -> float:
        return 2.0 / self.n

    def _flat(self) -> torch.Tensor:
        B, C = self.coeffs.shape[:2]
        P = self.coeffs.shape[-1]
        return self.coeffs.reshape(B, C, -1, P).permute(0, 2, 1, 3).reshape(B, -1, C * P)

    def _eval(self, q: torch.Tensor, derivatives: list[tuple[int, ...]]) -> torch.Tensor:
        """Values of the given u-derivatives, scaled to x. q ``(B|1, M, d)`` →
        ``(B, C, M, len(derivatives))``."""
        q = check_points("query points", q, self.dim, self.clamp)
        B, C = self.coeffs.shape[:2]
        P = self.coeffs.shape[-1]
        if q.dim() == 2:
            q = q.unsqueeze(0)
        if q.dim() != 3 or q.shape[0] not in (1, B):
            raise QuadfreeError(f"query points: shape {tuple(q.shape)} must be (M, {self.dim}) "
                                f"or ({B}, M, {self.dim})")
        q = q.to(device=self.coeffs.device, dtype=self.coeffs.dtype).expand(B, -1, -1)
        if derivatives == [(0,) * 3] and scatter.l2p_usable(self.coeffs, q):
            return scatter.l2p_compiled(self.coeffs, q, self.order).unsqueeze(-1)
        M = q.shape[1]
        flat = self._flat()
        base = (torch.arange(B, device=q.device) * flat.shape[1])[:, None]
        rows_all = flat.reshape(-1, C * P)
        outs = []
        for start in range(0, M, EVAL_CHUNK):
            qc = q[:, start: start + EVAL_CHUNK]
            idx, u = passes.locate(qc, self.n)
            cell = passes.flat_index(idx, self.n) + base
            rows = rows_all.index_select(0, cell.reshape(-1)).reshape(-1, C, P)
            cols = []
            for der in derivatives:
                E = passes.basis_products(u.reshape(-1, self.dim), self.order, der)
                val = torch.bmm(rows, E.unsqueeze(-1)).squeeze(-1)          # (B·m, C)
                cols.append(val * float(self.n) ** sum(der))
            outs.append(torch.stack(cols, -1).reshape(B, -1, C, len(derivatives)))
        return torch.cat(outs, 1).permute(0, 2, 1, 3)

    def evaluate(self, q: torch.Tensor) -> torch.Tensor:
        """f(q). q ``(M, d)`` (shared) or ``(B, M, d)`` → ``(B, C, M)``; differentiable in q.

        Example:
            >>> S = FC2T2("exp(-8*(x**2+y**2))", levels=2, dim=2)
            >>> S.expand(torch.zeros(1, 1, 2), torch.ones(1, 1, 1)).evaluate(
            ...     torch.zeros(5, 2)).shape
            torch.Size([1, 1, 5])
        """
        return self._eval(q, [(0,) * self.dim])[..., 0]

    __call__ = evaluate

    def gradient(self, q: torch.Tensor) -> torch.Tensor:
        """∇f(q): ``(M, d)`` or ``(B, M, d)`` → ``(B, C, M, d)``.

        Example:
            >>> S = FC2T2("exp(-8*(x**2+y**2))", levels=2, dim=2)
            >>> S.expand(torch.zeros(1, 1, 2), torch.ones(1, 1, 1)).gradient(
            ...     torch.zeros(1, 2)).shape
            torch.Size([1, 1, 1, 2])
        """
        d = self.dim
        return self._eval(q, [tuple(int(i == ax) for i in range(d)) for ax in range(d)])

    def hessian(self, q: torch.Tensor) -> torch.Tensor:
        """Second derivatives (upper triangle, row-major: xx, xy, xz, yy, yz, zz in 3-D;
        xx, xy, yy in 2-D): ``(…, M, d)`` → ``(B, C, M, d(d+1)/2)``.

        Example:
            >>> S = FC2T2("exp(-8*(x**2+y**2))", levels=2, dim=2)
            >>> S.expand(torch.zeros(1, 1, 2), torch.ones(1, 1, 1)).hessian(
            ...     torch.zeros(1, 2)).shape
            torch.Size([1, 1, 1, 3])
        """
        return self._eval(q, second_derivative_orders(self.dim))

    def monomial_coefficients(self) -> torch.Tensor:
        """Per-cell coefficients of the monomials ``u^k`` (same order as :attr:`coeffs`).

        ``f(x) = Σ_k c_k u^k`` with ``u = (x − centre)/(h/2)`` inside each cell. Shape
        ``(B, C, n…, P)``.

        Example:
            >>> S = FC2T2("1 + x**2 + y**2", levels=1, order=2, dim=2)
            >>> c = S.expand(torch.zeros(1, 1, 2), torch.ones(1, 1, 1)).monomial_coefficients()
            >>> c.shape
            torch.Size([1, 1, 4, 4, 6])
        """
        idx = multi_indices(self.dim, self.order)
        Cm = torch.as_tensor(monomial_coefficients(self.order), dtype=self.coeffs.dtype,
                             device=self.coeffs.device)
        T = torch.ones(len(idx), len(idx), dtype=self.coeffs.dtype, device=self.coeffs.device)
        ki = torch.tensor(idx, device=self.coeffs.device)
        for ax in range(self.dim):
            T = T * Cm[ki[:, ax][:, None], ki[:, ax][None, :]]   # T[k, j] = Π C[k_i, j_i]
        return self.coeffs @ T

    def cell_centres(self) -> torch.Tensor:
        """Centres of the finest cells along one axis: ``(n,)``.

        Example:
            >>> Expansion(torch.zeros(1, 1, 4, 4, 3), order=1).cell_centres().tolist()
            [-0.75, -0.25, 0.25, 0.75]
        """
        n = self.n
        return -1.0 + (torch.arange(n, dtype=self.coeffs.dtype, device=self.coeffs.device)
                       + 0.5) * (2.0 / n)

    @property
    def S(self):
        """The numpy-like accessor (§3.2): ``S[b, c, x, y, z]``, ``.vol``, ``.partials``."""
        from quadfree.taylor.accessor import Accessor
        return Accessor(self)


def second_derivative_orders(dim: int) -> list[tuple[int, ...]]:
    """Derivative orders of the second partials in storage order (upper triangle).

    Example:
        >>> second_derivative_orders(2)
        [(2, 0), (1, 1), (0, 2)]
    """
    out = []
    for i in range(dim):
        for j in range(i, dim):
            o = [0] * dim
            o[i] += 1
            o[j] += 1
            out.append(tuple(o))
    return out


class FC2T2:
    """A fast continuous convolution ``f(q) = Σ_n φ(q − p_n) w_n`` via a Taylor FMM.

    Args:
        kernel: sympy expression / string in x, y(, z), or ``lambda pkg: lambda x, y, z: …``.
        levels: finest grid has ``2^(levels+1)`` cells per axis (levels ≥ 1).
        order: ρ ≤ 4; P = C(ρ + d, d) coefficients per cell.
        dim: 2 or 3 (default from the kernel, else 3).
        fit: ``"lstsq"`` (least-squares M2L fit, §3.1, default) or ``"taylor"``.
        m2l: ``"auto"`` (separable when the kernel factors), ``"separable"`` or ``"general"``.
        separation: s, the neighbour radius (in parent cells) of the interaction lists; the
            paper uses 1 (a 6-cell window per axis), the default 2 (a 10-cell window) fits
            the coarse levels only to sources ≥ 2 cells away: about 10× smaller errors for a
            Gaussian at 5/3 the M2L cost.
        clamp: clamp out-of-domain points into [−1, 1]^d instead of raising.
        cache_dir: optional directory for the operator-table disk cache.

    Example:
        >>> S = FC2T2("exp(-10*(x**2+y**2+z**2))", levels=2, order=4)
        >>> g = torch.Generator().manual_seed(0)
        >>> p = torch.rand(1, 100, 3, generator=g) * 2 - 1; w = torch.rand(1, 1, 100, generator=g)
        >>> E = S.expand(p, w)
        >>> E.coeffs.shape
        torch.Size([1, 1, 8, 8, 8, 35])
        >>> from quadfree.taylor.exact import exact_sum
        >>> exact = exact_sum(S.kernel, p, w, p)
        >>> bool(((E(p) - exact).norm() / exact.norm()) < 1e-2)
        True
    """

    #: Run the finest level's separable 3-D passes (M2M from it, M2L and L2L into it) on
    #: degree blocks (:mod:`quadfree.taylor.compact`) instead of the dense layout; False
    #: gives the dense path everywhere (for A/B checks).
    compact_finest: bool = True
    #: Keep the CPU passes' scratch buffers (P2M moments, the block passes' grids) in
    #: :attr:`workspace` between calls instead of page-faulting fresh memory each time
    #: (3-D, one channel: 178 MB held at level 5; ``S.workspace.clear()`` frees them).
    reuse_buffers: bool = True

    def __init__(self, kernel, levels: int = 4, order: int = 4, *, dim: int | None = None,
                 fit: str = "lstsq", m2l: str = "auto", separation: int = 2,
                 clamp: bool = False, cache_dir: str | Path | None = None) -> None:
        if not isinstance(order, int) or not 0 <= order <= MAX_ORDER:
            raise QuadfreeError(f"order={order!r}: must be an integer between 0 and {MAX_ORDER}")
        if not isinstance(levels, int) or not 1 <= levels <= 8:
            raise QuadfreeError(f"levels={levels!r}: must be an integer between 1 and 8")
        if m2l not in ("auto", "separable", "general"):
            raise QuadfreeError(f"m2l={m2l!r}: choose auto, separable or general")
        self.kernel = Kernel.parse(kernel, dim)
        self.dim, self.levels, self.order = self.kernel.dim, levels, order
        self.clamp = clamp
        sep = None if m2l == "auto" else m2l == "separable"
        self.tables = get_tables(self.kernel, levels, order, fit, sep, cache_dir, separation)
        self._torch: dict = {}
        self.workspace = Workspace()

    @property
    def n(self) -> int:
        return cells_per_axis(self.levels)

    @property
    def separable(self) -> bool:
        """Whether the separable M2L (3·6 per-axis taps) is in use."""
        return self.tables.separable

    def _ops(self, device: torch.device, dtype: torch.dtype) -> dict:
        key = (str(device), dtype)
        if key not in self._torch:
            t = self.tables

            def cv(x):
                return torch.as_tensor(x, dtype=dtype, device=device)

            ops = {"m2m": [cv(t.m2m)] * self.dim, "l2l": [cv(t.l2l)] * self.dim}
            if t.separable:
                ops["window"] = [[cv(w) for w in lev] for lev in t.window]
                ops["hole"] = [None if lev is None else [cv(w) for w in lev] for lev in t.hole]
            else:
                ops["general"] = [cv(g) for g in t.general]
            self._torch[key] = ops
        return self._torch[key]

    def expand(self, p: torch.Tensor, w: torch.Tensor) -> Expansion:
        """Expand sources ``p (B, N, d)`` with weights ``w (B, C, N)`` into an :class:`Expansion`.

        Differentiable with respect to ``p`` and ``w``. float32 and float64.
        """
        p = check_points("sources p", p, self.dim, self.clamp)
        if p.dim() != 3:
            raise QuadfreeError(f"sources p: shape {tuple(p.shape)} must be (B, N, {self.dim})")
        if not isinstance(w, torch.Tensor) or w.dim() != 3:
            shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
            raise QuadfreeError(f"weights w: shape {shape} must be (B, C, N)")
        if w.shape[0] != p.shape[0] or w.shape[2] != p.shape[1]:
            raise QuadfreeError(f"weights w: shape {tuple(w.shape)} does not match sources p "
                                f"{tuple(p.shape)}; expected ({p.shape[0]}, C, {p.shape[1]})")
        if p.dtype not in (torch.float32, torch.float64):
            raise QuadfreeError(f"sources p: dtype {p.dtype}; use float32 or float64")
        check_finite("weights w", w)
        w = w.to(device=p.device, dtype=p.dtype)
        return self._expand(p, w, None)

    def _expand(self, p: torch.Tensor, w: torch.Tensor, timer) -> Expansion:
        """The passes on validated inputs; ``timer`` (a :class:`~quadfree.taylor.timing.
        PassTimer` or None) records seconds and FLOPs per pass."""
        B, C = w.shape[:2]
        order = self.order
        sec = _no_timer if timer is None else timer.section
        with sec("P2M", passes.p2m_flops(p.shape[1] * B, C, self.dim, order)):
            if scatter.usable(p, w):
                out = None
                if self.reuse_buffers:
                    P = num_coefficients(self.dim, order)
                    out = self.workspace.take("p2m", (P, self.n ** 3, B * C), p.dtype,
                                              p.device)
                M = scatter.p2m_rows_compiled(p, w, self.n, order, out=out)
            else:
                M = passes.p2m_rows(p, w, self.n, order)      # (P, n^d, R)
        return self._passes(M, B, C, timer)

    def expand_moments(self, rows: torch.Tensor, B: int, C: int) -> Expansion:
        """The expansion from finest-level P2M moments (the passes M2M, M2L, L2L only).

        ``rows``: ``(P, n^d, B·C)`` as :func:`quadfree.taylor.passes.p2m_rows` returns them
        (coefficient-major, cells in row-major order, batch×channel last). Lets a caller that
        caches its points' basis (:class:`quadfree.taylor.targets.FixedTargets`) supply the
        moments without recomputing them; the passes are the ones :meth:`expand` runs.

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=2, order=4, dim=2)
            >>> p, w = torch.rand(1, 9, 2) - 0.5, torch.rand(1, 1, 9)
            >>> rows = passes.p2m_rows(p, w, S.n, S.order)
            >>> bool(torch.allclose(S.expand_moments(rows, 1, 1).coeffs, S.expand(p, w).coeffs))
            True
        """
        return self._passes(rows, B, C, None)

    def _passes(self, M: torch.Tensor, B: int, C: int, timer) -> Expansion:
        """M2M, M2L and L2L from the finest-level moment rows ``(P, n^d, B·C)``."""
        d, order = self.dim, self.order
        ops = self._ops(M.device, M.dtype)
        sec = _no_timer if timer is None else timer.section
        blocks = self.separable and d == 3 and self.compact_finest
        ws = self.workspace if self.reuse_buffers else None
        if not blocks:
            M = passes.rows_to_ag(M, self.n, d, order)
        moments = {self.levels: M}
        rows: dict = {}                                       # level → rows (P, n³, R) view
        for lev in range(self.levels, 1, -1):
            if blocks and lev == self.levels:                 # rows → cells one level up
                with sec(f"M2M {lev}->{lev - 1}", compact.m2l_cells_flops(
                        self.n, B * C, ops["m2m"], order, "down")):
                    cells = compact.m2l_cells(M, ops["m2m"], order, B, C, "down", ws)
                    rows[lev - 1] = compact.cell_rows(cells)
                    M = passes.cells_to_ag(cells, order)
            else:
                with sec(f"M2M {lev}->{lev - 1}",
                         passes.axis_passes_flops(M.shape, d, ops["m2m"], "down")):
                    M = passes.mask_degree(passes.axis_passes(M, d, ops["m2m"], "down"), d,
                                           order)
            moments[lev - 1] = M
        local = None
        for lev in range(1, self.levels + 1):
            M = moments[lev]
            if blocks and lev == self.levels:
                # finest level straight into the cell layout, on the non-zero degree blocks;
                # the L2L from the level above accumulates into the same buffer
                W = ops["window"][lev - 1]
                terms = [(M, W, "m2l", 1.0)]
                labels = [(f"M2L {lev}", compact.m2l_cells_flops(self.n, B * C, W, order))]
                if local is not None:
                    terms.append((local, ops["l2l"], "up", 1.0))
                    labels.append((f"L2L {lev - 1}->{lev}", compact.m2l_cells_flops(
                        self.n // 2, B * C, ops["l2l"], order, "up")))
                coeffs = compact.sum_cells(terms, order, B, C, sec, labels, ws)
                return Expansion(coeffs=coeffs, order=order, clamp=self.clamp)
            if blocks and lev == self.levels - 1 and ops["hole"][lev - 1] is not None:
                # the level above the finest on degree blocks too: window − hole (+ L2L)
                n_lev = self.n // 2
                W, hole = ops["window"][lev - 1], ops["hole"][lev - 1]
                terms = [(rows[lev], W, "m2l", 1.0), (rows[lev], hole, "m2l", -1.0)]
                labels = [(f"M2L {lev}", 2 * compact.m2l_cells_flops(n_lev, B * C, W, order))] * 2
                if local is not None:
                    terms.append((local, ops["l2l"], "up", 1.0))
                    labels.append((f"L2L {lev - 1}->{lev}", compact.m2l_cells_flops(
                        n_lev // 2, B * C, ops["l2l"], order, "up")))
                local = compact.cell_rows(compact.sum_cells(terms, order, B, C, sec, labels,
                                                            ws))
                continue
            if local is not None:
                with sec(f"L2L {lev - 1}->{lev}",
                         passes.axis_passes_flops(local.shape, d, ops["l2l"], "up")):
                    shifted = passes.axis_passes(local, d, ops["l2l"], "up")
            if self.separable:
                hole = ops["hole"][lev - 1]
                flops = passes.axis_passes_flops(M.shape, d, ops["window"][lev - 1], "m2l")
                with sec(f"M2L {lev}", flops * (1 if hole is None else 2)):
                    out = passes.axis_passes(M, d, ops["window"][lev - 1], "m2l")
                    if hole is not None:
                        out = out.sub_(passes.axis_passes(M, d, hole, "m2l"))
            else:
                W = ops["general"][lev - 1]
                with sec(f"M2L {lev}", 2 * M.shape[-1] * W.numel() * (self.n >> (
                        self.levels - lev + 1)) ** d):
                    out = passes.m2l_general(M, d, order, W)
            if local is not None:
                out = out.add_(shifted)
            # the finest level needs no mask: ag_to_cells keeps only degrees ≤ ρ
            local = out if lev == self.levels else passes.mask_degree(out, d, order)
        with sec("to cells", 0):
            coeffs = passes.ag_to_cells(local, B, C, d, order)
        assert coeffs.shape[-1] == num_coefficients(d, order)
        return Expansion(coeffs=coeffs, order=order, clamp=self.clamp)

    __call__ = expand


def initialize(kernel, levels: int = 4, rho: int = 4, **kwargs):
    """The paper's entry point: ``expand, A = initialize(func, levels, rho)``.

    ``expand(p, w)`` returns the coefficient tensor ``(B, C, n…, P)``; ``A(L)`` wraps it in the
    accessor. Keyword arguments go to :class:`FC2T2`.

    Example:
        >>> expand, A = initialize(lambda pkg: lambda x, y, z: pkg.exp(-5*(x**2+y**2+z**2)),
        ...                        levels=1, rho=2)
        >>> L = expand(torch.zeros(1, 1, 3), torch.ones(1, 1, 1))
        >>> L.shape, A(L)[0, 0, 0., 0., 0.].shape
        (torch.Size([1, 1, 4, 4, 4, 10]), torch.Size([]))
    """
    S = FC2T2(kernel, levels, rho, **kwargs)

    def expand(p: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return S.expand(p, w).coeffs

    def accessor(coeffs: torch.Tensor):
        return Expansion(coeffs=coeffs, order=rho, clamp=S.clamp).S

    return expand, accessor

