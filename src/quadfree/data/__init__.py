"""Datasets: one interface (:class:`ViewSet`) over the Blender, nerfstudio / instant-ngp and
LLFF readers (:func:`load_views` detects the format), the Blender writer, procedural scenes."""

from quadfree.data.blender import BlenderSplit, load_blender, write_blender_split
from quadfree.data.formats import FORMATS, detect_format, has_split, load_views
from quadfree.data.llff import load_llff
from quadfree.data.nerfstudio import load_nerfstudio
from quadfree.data.views import ViewSet

__all__ = ["FORMATS", "BlenderSplit", "ViewSet", "detect_format", "has_split", "load_blender",
           "load_llff", "load_nerfstudio", "load_views", "write_blender_split"]
