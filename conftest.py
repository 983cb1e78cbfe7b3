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
