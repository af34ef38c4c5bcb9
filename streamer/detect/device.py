"""Pick the inference device: CUDA when present, else CPU, unless the config names one."""

from __future__ import annotations


def choose_device(requested: str) -> str:
    if requested != "auto":
        return requested
    import torch  # imported lazily: config validation must not pay for torch

    if torch.cuda.is_available():
        return "cuda:0"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
