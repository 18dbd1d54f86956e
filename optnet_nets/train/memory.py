"""What autograd keeps for backward: the measure behind the memory claims of ``reversible=True``.

:class:`SavedTensorBytes` counts the bytes of the tensors saved for backward inside a ``with``
block (used by ``tests/nets/test_reversible.py`` and ``benchmarks/bench_models.py`` to show that
the reversible HB-Net of Sec. 6.1 saves two states per stage, whatever its depth).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["SavedTensorBytes"]


class SavedTensorBytes:
    """Counts the memory autograd saves for backward inside a ``with`` block.

    Uses ``torch.autograd.graph.saved_tensors_hooks``; a storage saved by several operations
    (a ReLU output that the next convolution also keeps) is counted once. ``nbytes`` is the sum
    over the distinct storages, parameters included.
    """

    def __init__(self) -> None:
        self.nbytes = 0
        self._seen: set[tuple[str, int]] = set()
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        key = (str(t.device), storage.data_ptr())
        if key not in self._seen:
            self._seen.add(key)
            self.nbytes += storage.nbytes()
        return t

    @staticmethod
    def _unpack(t: Tensor) -> Tensor:
        return t

    def __enter__(self) -> SavedTensorBytes:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)
