"""Pick the torch device a build runs on."""

from __future__ import annotations

import torch

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """Turn "auto" | "cpu" | "cuda" | "mps" into a torch.device.

    "auto" prefers cuda, then mps, then cpu. Asking for a device this machine
    lacks raises ValueError instead of failing later inside torch.
    """
    if name not in DEVICE_NAMES:
        raise ValueError(f"unknown device {name!r}: expected one of {', '.join(DEVICE_NAMES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for but torch sees no CUDA GPU "
            f"(torch {torch.__version__}); use --device cpu or auto"
        )
    if name == "mps" and not _mps_available():
        raise ValueError("device 'mps' was asked for but this torch build has no Apple MPS backend")
    return torch.device(name)
