"""Datasets fetched once, verified by checksum and unpacked atomically (Sec. 7.1).

:mod:`.datasets` (what ``optnet data fetch`` does), :mod:`.sources` (the official files and
their checksums), :mod:`.transfer` (downloads with deadlines), :mod:`.check` (manifests).
"""

from typing import TYPE_CHECKING

from optnet_theory.lazy import forward_names

if TYPE_CHECKING:  # pragma: no cover
    from optnet_nets.fetch.datasets import *  # noqa: F403

__getattr__ = forward_names(__name__, "optnet_nets.fetch.datasets")
