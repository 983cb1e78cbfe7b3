"""AutoInt volume rendering (Lindell, Martel, Wetzstein, CVPR 2021) behind RadianceMethod.

    config.py    the settings (:class:`Config`, CPU defaults) and :func:`paper_config`
    encoding.py  the ray-point encoding ``[PE(x), γ(d)]`` with its forward-mode derivative
    paths.py     Φ and ∂Φ/∂t along rays, computed per ray where they can be
    method.py    :class:`AutoIntRadiance`: section boundaries, the two engines, rendering
"""

from quadfree.radiance.autoint.config import SAVED_BEFORE, Config, paper_config
from quadfree.radiance.autoint.encoding import RayPointEncoding
from quadfree.radiance.autoint.method import AutoIntRadiance, build
from quadfree.radiance.autoint.paths import ray_forward, ray_tangent

__all__ = ["SAVED_BEFORE", "AutoIntRadiance", "Config", "RayPointEncoding", "build",
           "paper_config", "ray_forward", "ray_tangent"]
