"""AutoInt volume rendering (Lindell, Martel, Wetzstein, CVPR 2021) behind RadianceMethod."""

from quadfree.radiance.autoint.method import (
    SAVED_BEFORE,
    AutoIntRadiance,
    Config,
    RayPointEncoding,
    build,
    paper_config,
    ray_forward,
    ray_tangent,
)

__all__ = ["SAVED_BEFORE", "AutoIntRadiance", "Config", "RayPointEncoding", "build",
           "paper_config", "ray_forward", "ray_tangent"]
