"""Where a fit's arrays live: on the host as NumPy/SciPy (``device=None``) or on a PyTorch device.

A fit on a device copies its data there once (a row block at a time for data read in blocks), keeps
the factors and the losses' per-feature parameters there for every iteration, and copies the
factors back at the end. The schedules and the engine never ask where they run: their arithmetic
is written against the array API (:mod:`bcnmf.backend.namespace`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bcnmf.backend.arrays import is_sparse
from bcnmf.backend.blocks import RowSource
from bcnmf.backend.namespace import is_device_csr, is_tensor

#: What ``device=`` says when torch is missing.
INSTALL_HINT = 'install PyTorch (pip install "bcnmf[gpu]") or leave device=None for the NumPy backend'


def check_device(device) -> str | None:
    """Validate ``device=``: None (NumPy on the host) or a PyTorch device that exists here.

    Returns the device as a string (None for the host).

    Raises
    ------
    ValueError
        For a device name PyTorch does not know, or one this machine does not have.
    ImportError
        When a device is asked for and PyTorch is not installed.
    """
    if device is None:
        return None
    if not isinstance(device, str) and type(device).__name__ != "device":
        raise ValueError(f"device={device!r} must be None (NumPy) or a PyTorch device such as 'cuda' or 'cpu'.")
    try:
        import torch
    except ImportError:
        raise ImportError(f"device={device!r} needs PyTorch: {INSTALL_HINT}.") from None
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device={device!r} is not a PyTorch device; use 'cuda', 'cuda:0', 'cpu' or None.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: PyTorch sees no CUDA GPU on this machine; use device='cpu' or None.")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s).")
    return str(resolved)


def to_device(x, device: str):
    """``x`` on ``device``: a NumPy array as a tensor of its dtype, a SciPy CSR matrix as a
    :class:`~bcnmf.backend.torch_sparse.DeviceCSR`, a row source as one whose blocks are moved as
    they are read; tensors, numbers and None unchanged (tensors moved to ``device``)."""
    import torch

    if isinstance(x, RowSource):
        return DeviceSource(x, device)
    if is_sparse(x) and not is_device_csr(x):
        from bcnmf.backend.torch_sparse import DeviceCSR

        return DeviceCSR.from_scipy(x.tocsr(), device, torch.from_numpy(np.zeros(0, x.dtype)).dtype)
    if isinstance(x, np.ndarray):
        return torch.as_tensor(np.ascontiguousarray(x), device=device)
    if isinstance(x, torch.Tensor):
        return x.to(device)
    return x


def to_host(x):
    """``x`` as a NumPy array if it is a tensor; anything else unchanged."""
    if is_tensor(x):
        return x.detach().cpu().numpy()
    return x


def like(x, reference):
    """``x`` (an array or anything else) where ``reference`` lives: on its device if it is a
    tensor, on the host otherwise."""
    if is_tensor(reference):
        return to_device(x, str(reference.device))
    return to_host(x)


def move_arrays(obj: object, convert) -> None:
    """Apply ``convert`` to every array (NumPy or tensor, not 0-d) held as an attribute of ``obj``,
    in place: the per-feature parameters of a loss."""
    for name, value in list(vars(obj).items()):
        if (isinstance(value, np.ndarray) and value.ndim > 0) or is_tensor(value):
            setattr(obj, name, convert(value))


class DeviceSource(RowSource):
    """A row source whose blocks are copied to a device as they are read (one block there at a
    time, the data's home unchanged)."""

    def __init__(self, source: RowSource, device: str) -> None:
        self.source = source
        self.device = device
        self.n_rows, self.n_features = source.n_rows, source.n_features
        self.feature_names = source.feature_names

    def blocks(self, n_blocks: int, dtype) -> Iterator[tuple[slice, object]]:
        for rows, block in self.source.blocks(n_blocks, dtype):
            yield rows, to_device(block, self.device)
