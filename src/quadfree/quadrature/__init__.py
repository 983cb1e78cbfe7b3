"""The reference engine: sampling-based quadrature (Gauss–Legendre, stratified, midpoint).

It is the ground truth of the tests and the baseline of every speed claim.
"""

from quadfree.quadrature.rules import gauss_legendre, quadrature_segment_integral

__all__ = ["gauss_legendre", "quadrature_segment_integral"]
