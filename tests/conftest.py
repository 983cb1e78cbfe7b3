import os

import matplotlib
import torch

matplotlib.use("Agg")
# Two cores on the project's machines: keep tests from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))
