"""Where torch work runs: the named device, else the GPU when one is visible, else the CPU; and whether it multiplies
bfloat16 natively."""

from __future__ import annotations

import torch


def pick_device(name: str = "") -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def computes_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices natively: a GPU that supports them, or a CPU with AMX or AVX-512
    BF16 (oneDNN's bfloat16 kernels; about 6x its float32 products on AMX). Elsewhere bfloat16 is emulated, slower than
    float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # torch's own probes of the CPU (private names: absent, the CPU counts as without)
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
