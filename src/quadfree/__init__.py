"""quadfree: integrals through fields, fast, without sampling-based quadrature.

Engines (each implements :class:`quadfree.integrals.IntegralEngine` along rays):
    quadfree.quadrature  the reference: Gauss–Legendre / stratified / midpoint sampling
    quadfree.autoint     learned antiderivatives (AutoInt): integral = Φ(b) − Φ(a)
    quadfree.taylor      FC²T² Taylor fast-multipole expansion of kernel sums
Building blocks:
    quadfree.fields      encodings, activations, MLP / SIREN builders
    quadfree.render      rays, samplers, compositing, rendering through an engine
Applications:
    quadfree.radiance (NeRF, AutoInt), quadfree.tomo (sparse-view CT), quadfree.apps (demo,
    benchmarks), quadfree.cli (the ``quadfree`` command)
"""

from quadfree.errors import QuadfreeError

__all__ = ["QuadfreeError", "__version__"]
__version__ = "0.1.0"
