"""Reproducible runs: one call seeds Python, NumPy and torch."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed ``random``, NumPy and torch (CPU and CUDA); return a CPU generator with that seed.

    Example:
        >>> g = seed_everything(0)
        >>> isinstance(g, torch.Generator)
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
