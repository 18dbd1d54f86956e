"""optnet_proofs: one executable symbolic proof per claim of the paper (uses optnet_theory only).

The folder ``proofs/`` of the repository installs under the project's own name, as the package
``optnet_proofs`` (``package-dir`` in pyproject.toml), so that no generic top-level ``proofs``
lands in site-packages. Its modules import each other relatively. Run one proof with
``python -m optnet_proofs.NAME [--latex] [--json]``, all of them with ``optnet prove``.
"""
