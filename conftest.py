import os

# Idle OpenMP threads must sleep, not spin: spinning made small torch ops ~5x slower on the
# shared 2-core machines. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import matplotlib  # noqa: E402
import torch  # noqa: E402

matplotlib.use("Agg")
# The tests' networks are small: on the project's 2-core machines one torch thread was several
# times faster than two whenever anything else ran (threads wait on each other), never slower
# by much when idle.
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` are skipped, with the reason, where torch sees no CUDA device."""
    if torch.cuda.is_available():
        return
    import pytest

    no_cuda = pytest.mark.skip(reason="needs a CUDA device (run `make gpu-check` on a GPU)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(no_cuda)
