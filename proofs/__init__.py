"""proofs: one executable symbolic proof per claim of the paper (uses optnet_theory only)."""
