"""A description of the machine a benchmark ran on, for every benchmark JSON."""

from __future__ import annotations

import os
import platform

import torch


def machine_info(device: torch.device | str = "cpu") -> dict:
    """CPU model, core count, torch version and device, as a JSON-ready dict.

    Example:
        >>> sorted(machine_info())[:3]
        ['cpu', 'cpu_count', 'device']
    """
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    device = torch.device(device)
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": str(torch.__version__),     # a plain str: checkpoints hold only plain data
        "python": platform.python_version(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
