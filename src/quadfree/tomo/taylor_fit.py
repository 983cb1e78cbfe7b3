"""Fitting the Taylor CT model to measured views: full-batch L-BFGS-B with ``w ≥ 0``.

Objective (data normalised by ``s = max |measured|``, image in units of ``s / (2R)``):

    L(p, w) = [Σ_{measured lines} r² + λ Σ_{prior lines} r²] / (L_m + λ L_p)
              + tv · mean_{pixels in circle} √(|∇g|² + ε²),      r = P(p, w)/s − y/s

where ``P`` are the exact line integrals of the expansion along the lines
(:meth:`TaylorCT.project_torch`, ray2M backward) and ``g = 2R·f/s`` the rendered image
(forward differences; gradient by autograd through the expansion). Without a prior the data
term is the mean over the measured lines. The optional :class:`ViewPrior` adds predicted
projections at other angles (e.g. an AutoInt-completed sinogram's missing views) with weight
λ: the result is still one image, seen consistently from every angle. The weights are bounded
below by 0 in L-BFGS-B (non-negative attenuation, exactly: no reparametrisation); learnable
centres are bounded to the domain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from quadfree.errors import QuadfreeError
from quadfree.tomo.geometry import check_angles, circle_mask, radius
from quadfree.tomo.taylor_model import TaylorCT, TaylorCTConfig


@dataclass
class TaylorHistory:
    """Objective per evaluation, evaluations, iterations, seconds, L-BFGS-B's message."""

    loss: list[float] = field(default_factory=list)
    evaluations: int = 0
    iterations: int = 0
    seconds: float = 0.0
    message: str = ""


@dataclass
class ViewPrior:
    """Predicted projections ``(N, P)`` at ``angles_deg`` ``(P,)`` (degrees, none of them a
    measured angle), fitted with ``weight`` λ per line relative to a measured line.

    Example:
        >>> ViewPrior(np.ones((16, 2)), np.array([10.0, 20.0]), weight=0.5).weight
        0.5
    """

    sinogram: np.ndarray
    angles_deg: np.ndarray
    weight: float = 1.0


def _check_prior(prior: ViewPrior, n: int, measured_angles: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The prior's views and angles, checked against the measured problem."""
    angles = check_angles(prior.angles_deg, name="prior: angles_deg")
    y = np.asarray(prior.sinogram, dtype=np.float64)
    if y.ndim != 2 or y.shape != (n, angles.size):
        raise QuadfreeError(f"prior: sinogram shape {y.shape} does not match {n} detectors "
                            f"× {angles.size} angles", param="prior")
    if not np.isfinite(y).all():
        raise QuadfreeError("prior: sinogram contains NaN or Inf", param="prior")
    if not (np.isfinite(prior.weight) and prior.weight >= 0):
        raise QuadfreeError(f"prior: weight {prior.weight} must be a finite number >= 0",
                            param="prior")
    if np.isin(angles, measured_angles).any():
        raise QuadfreeError("prior: an angle of the prior is also a measured angle; give "
                            "the prior only at the missing angles", param="prior")
    return y, angles


def tv_penalty(img: torch.Tensor, mask: torch.Tensor, eps: float) -> torch.Tensor:
    """Smoothed isotropic total variation ``mean_mask √(dx² + dy² + ε²)`` (forward differences).

    Shapes: img ``(N, N)``, mask ``(N, N)`` bool → scalar.

    Example:
        >>> img = torch.zeros(4, 4, dtype=torch.float64); img[:, 2:] = 1.0
        >>> round(float(tv_penalty(img, torch.ones(4, 4, dtype=torch.bool), 1e-9)), 6)
        0.25
    """
    dx = torch.zeros_like(img)
    dy = torch.zeros_like(img)
    dx[:, :-1] = img[:, 1:] - img[:, :-1]
    dy[:-1, :] = img[1:, :] - img[:-1, :]
    return torch.sqrt(dx**2 + dy**2 + eps**2)[mask].mean()


def fit_taylor(measured: np.ndarray, angles_deg, config: TaylorCTConfig | None = None,
               progress: bool = True, prior: ViewPrior | None = None
               ) -> tuple[TaylorCT, TaylorHistory]:
    """Fit the image to the measured views ``(N, K)`` at ``angles_deg`` ``(K,)`` (degrees),
    and to ``prior``'s predicted views with its weight when given.

    Returns the model (``model.render()`` is the image, ``model.project(angles)`` any view)
    and the history. float64 throughout.

    Example:
        >>> from quadfree.tomo import shepp_logan, simulate
        >>> img = shepp_logan(16); ang = [0.0, 45.0, 90.0, 135.0]
        >>> m, h = fit_taylor(simulate(img, ang), ang, TaylorCTConfig(iterations=5),
        ...                   progress=False)
        >>> m.render().shape, h.iterations <= 5
        ((16, 16), True)
    """
    from scipy.optimize import minimize

    cfg = config or TaylorCTConfig()
    cfg.check()
    y = np.asarray(measured, dtype=np.float64)
    angles = check_angles(angles_deg)
    if y.ndim != 2 or y.shape[1] != angles.size:
        raise QuadfreeError(f"measured: shape {y.shape} does not match {angles.size} angles",
                            param="measured")
    if not np.isfinite(y).all():
        raise QuadfreeError("measured: contains NaN or Inf", param="measured")
    s = float(np.abs(y).max())
    if s <= 0:
        raise QuadfreeError("measured: the views are all zero: nothing to reconstruct",
                            param="measured")
    n, k = y.shape
    lam = 0.0
    if prior is not None:
        y_prior, prior_angles = _check_prior(prior, n, angles)
        lam = float(prior.weight)
        # one projection call for both sets of lines; the prior's lines weigh λ each
        angles = np.concatenate([angles, prior_angles])
        y = np.concatenate([y, y_prior], axis=1)
    line_weight = torch.ones(y.shape[1], dtype=torch.float64)
    line_weight[k:] = lam
    line_weight /= float(line_weight.sum()) * n
    torch.manual_seed(cfg.seed)
    model = TaylorCT(n, cfg, scale=s)
    target = torch.as_tensor(y / s)
    mask = torch.as_tensor(circle_mask(n))
    img_scale = 2.0 * radius(n)
    params = [model.weights] + ([model.centres] if cfg.learn_centres else [])
    sizes = [q.numel() for q in params]
    history = TaylorHistory()
    bar = tqdm(total=cfg.iterations, desc="fit Taylor CT", disable=not progress, leave=False)

    def unpack(x: np.ndarray) -> None:
        with torch.no_grad():
            for q, chunk in zip(params, np.split(x, np.cumsum(sizes)[:-1])):
                q.copy_(torch.as_tensor(chunk).reshape(q.shape))

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        unpack(x)
        for q in params:
            q.grad = None
        loss = (((model.project_torch(angles) - target) ** 2) * line_weight).sum()
        if cfg.tv > 0:
            loss = loss + cfg.tv * tv_penalty(img_scale * model.render_torch(), mask, cfg.tv_eps)
        loss.backward()
        history.evaluations += 1
        history.loss.append(float(loss.detach()))
        grad = np.concatenate([q.grad.reshape(-1).numpy() for q in params])
        return float(loss.detach()), grad

    def step(_x: np.ndarray) -> None:
        history.iterations += 1
        bar.update(1)
        if history.loss:
            bar.set_postfix(loss=f"{history.loss[-1]:.3e}")

    x0 = np.concatenate([q.detach().reshape(-1).numpy() for q in params])
    bounds = [(0.0, None)] * sizes[0] + [(-1.0, 1.0)] * sum(sizes[1:])
    t0 = time.perf_counter()
    res = minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=bounds, callback=step,
                   options={"maxiter": cfg.iterations, "maxcor": 20, "ftol": 1e-14,
                            "gtol": 1e-12})
    history.seconds = time.perf_counter() - t0
    bar.close()
    unpack(res.x)
    history.message = str(res.message)
    return model, history
