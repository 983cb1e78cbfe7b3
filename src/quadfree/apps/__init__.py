"""Applications built on the library: the demo, comparisons, runs, the 1-D integration job and
the benchmarks (:mod:`quadfree.apps.bench`). Nothing below ``apps`` imports from here."""
