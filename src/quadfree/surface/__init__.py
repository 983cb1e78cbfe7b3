"""Depth fields with the FC²T² root-implicit layer (paper §5.3.1) and an MLP baseline.

``data`` reads depth supervision (Blender-format depth maps or one depth image + intrinsics)
and maps rays into the expansion's domain; ``models`` holds the Taylor depth field and the
MLP implicit surface (both answer ``hits(o, r)``: depth, surface gradient, hit mask);
``fit`` trains either one; ``shading`` learns the surface and a light direction from shading
images (inverse rendering, §5.3.4); ``evaluate`` renders held-out views and scores depth and
normals;
``figure`` and ``export`` write the maps and a mesh; ``experiment`` ties them together.
"""
