"""Which array library an array belongs to, and the few operations the array API leaves out.

The engine, the losses and the schedules are written once against the array API
(``array_api_compat``): :func:`array_namespace` gives NumPy's namespace for NumPy arrays and SciPy
matrices, PyTorch's for tensors (on any device) and for :class:`~bcnmf.backend.torch_sparse.DeviceCSR`.
"""

from __future__ import annotations

from types import ModuleType

import array_api_compat.numpy as numpy_namespace
from scipy import special


def is_device_csr(x: object) -> bool:
    """True for a :class:`~bcnmf.backend.torch_sparse.DeviceCSR` (checked without importing
    PyTorch)."""
    return type(x).__name__ == "DeviceCSR"


def is_tensor(x: object) -> bool:
    """True for a PyTorch tensor (checked without importing PyTorch; devices and dtypes are not)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def is_torch(x: object) -> bool:
    """True for a PyTorch tensor or a :class:`~bcnmf.backend.torch_sparse.DeviceCSR`."""
    return is_tensor(x) or is_device_csr(x)


def array_namespace(*arrays) -> ModuleType:
    """The array-API namespace of ``arrays`` (NumPy's where none is a tensor; SciPy matrices,
    scalars and None are taken as NumPy)."""
    for x in arrays:
        if is_torch(x):
            import array_api_compat.torch as xp

            return xp
    return numpy_namespace


def xlogy(x, y):
    """``x * log(y)``, zero where ``x`` is zero, for NumPy arrays or tensors (``x`` may be a
    scalar)."""
    if is_torch(y):
        import torch

        return torch.special.xlogy(x, y)
    return special.xlogy(x, y)


def to_float(value) -> float:
    """A Python float from a 0-d array or tensor (synchronises with the device)."""
    return float(value.item() if hasattr(value, "item") else value)
