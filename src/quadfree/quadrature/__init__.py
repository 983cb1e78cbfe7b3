"""The reference engine: sampling-based quadrature (Gauss–Legendre, stratified, midpoint).

It is the ground truth of the tests and the baseline of every speed claim;
:class:`QuadratureEngine` implements :class:`quadfree.integrals.IntegralEngine`.
"""

from quadfree.quadrature.engine import RULES, QuadratureEngine, section_nodes
from quadfree.quadrature.rules import gauss_legendre, quadrature_segment_integral

__all__ = ["RULES", "QuadratureEngine", "gauss_legendre", "quadrature_segment_integral",
           "section_nodes"]
