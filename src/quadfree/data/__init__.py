"""Datasets: the Blender (NeRF synthetic) reader and writer, and procedural scenes."""

from quadfree.data.blender import BlenderSplit, load_blender, write_blender_split

__all__ = ["BlenderSplit", "load_blender", "write_blender_split"]
