"""Where torch work runs: the named device, else the GPU when one is visible, else the CPU."""

from __future__ import annotations

import torch


def pick_device(name: str = "") -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
