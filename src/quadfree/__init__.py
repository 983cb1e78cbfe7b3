"""quadfree: integrals through fields, fast, without sampling-based quadrature.

Engines:
    quadfree.autoint  learned antiderivatives (AutoInt): integral = Φ(b) − Φ(a)
    quadfree.taylor   FC²T² Taylor fast-multipole expansion of kernel sums
Building blocks:
    quadfree.fields   encodings, activations, MLP / SIREN builders
"""

from quadfree.errors import QuadfreeError

__all__ = ["QuadfreeError", "__version__"]
__version__ = "0.1.0"
