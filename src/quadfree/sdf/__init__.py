"""Signed-distance fitting with the explicit FC²T² layer (paper §4.3.3) and a DeepSDF baseline.

Modules: ``shapes`` (procedural shapes with exact SDFs), ``mesh`` (loading and checking user
meshes), ``samples`` (DeepSDF-style near-surface and uniform samples), ``models`` (Taylor and
MLP SDFs), ``fit`` (full-batch MAE fitting with checkpoints), ``extract`` (marching cubes and
PLY), ``quality`` (held-out MAE, Chamfer, normal consistency), ``figure`` and ``experiment``
(the pipeline behind ``quadfree sdf``).
"""
