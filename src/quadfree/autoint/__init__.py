"""AutoInt: learn the derivative of a network, integrate by evaluating the network itself.

    model = AutoInt(phi, axes=0)          # grad network ∂Φ/∂x0 shares Φ's parameters
    fit(model.grad, x, f(x))              # train the grad network on samples of f
    model.integrate(a, b)                 # ∫_a^b f = Φ(b) − Φ(a): two evaluations
"""

from quadfree.autoint.engine import AutoIntEngine
from quadfree.autoint.fit import FitHistory, fit
from quadfree.autoint.fit1d import Fit1DConfig, Normalized1D, fit_1d
from quadfree.autoint.grad import GradNetwork, directional_derivative, mixed_partial
from quadfree.autoint.integrate import (
    box_corners,
    box_integral,
    evaluate_chunked,
    segment_integral,
)
from quadfree.autoint.model import AutoInt

__all__ = [
    "AutoInt", "AutoIntEngine", "Fit1DConfig", "FitHistory", "GradNetwork", "Normalized1D",
    "box_corners", "box_integral", "directional_derivative", "evaluate_chunked", "fit", "fit_1d",
    "mixed_partial", "segment_integral",
]
