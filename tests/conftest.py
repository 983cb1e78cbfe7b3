import os

# Idle OpenMP threads must sleep, not spin: spinning made small torch ops ~5x slower on the
# shared 2-core machines. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import matplotlib  # noqa: E402
import torch  # noqa: E402

matplotlib.use("Agg")
# Two cores on the project's machines: keep tests from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))
