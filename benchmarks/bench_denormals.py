"""Cost of subnormal floats in Table 2's deep networks: one training step with and without flush.

Deep GD (7) and AGD (12) networks have vanishing gradients: after training, a depth-40 GD net's
first layers get gradients far below float32's smallest normal number (1.2e-38), and x86 CPUs do
arithmetic on such subnormals in slow microcode. ``optnet simulate`` therefore trains with
flush-to-zero (``torch.set_flush_denormal``; ``--keep-denormals`` turns it off). This benchmark
builds the same situation without a trained checkpoint: Table 2's five structures at depth 40,
d = 100, batch 100, with weights scaled by ``--scale`` so that the gradients of the first layers
vanish; it times the explicit-gradient step, interleaved, with flush off and on, and reports the
ratio and how many gradient entries were subnormal. Usage::

    python benchmarks/bench_denormals.py [--depth 40] [--scale 0.45] [--rounds 5] [--steps 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from optnet_nets.unrolled import STRUCTURES, UnrolledEnsemble
from optnet_nets.unrolled.adjoint import ExplicitGradient


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depth", type=int, default=40)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--scale", type=float, default=0.45, help="multiplies the initial weights")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="steps per timing")
    args = ap.parse_args()
    torch.set_num_threads(1)

    model = UnrolledEnsemble(list(STRUCTURES), args.depth, args.dim, seeds=[0] * len(STRUCTURES))
    with torch.no_grad():
        model.weight.mul_(args.scale)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(model.members, args.batch, args.dim, generator=gen)
    f = torch.randn(model.members, args.batch, args.dim, generator=gen)
    step = ExplicitGradient(model, args.batch)

    def timed(flush: bool) -> float:
        torch.set_flush_denormal(flush)
        try:
            step(x, f)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step(x, f)
            return (time.perf_counter() - t0) / args.steps
        finally:
            torch.set_flush_denormal(False)

    step(x, f)
    g = model.weight.grad
    subnormal = int(((g != 0) & (g.abs() < torch.finfo(g.dtype).tiny)).sum())
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for flush in (False, True):
            times[flush].append(timed(flush))
    ieee, ftz = statistics.median(times[False]), statistics.median(times[True])
    print(f"Table 2 structures, depth {args.depth}, d={args.dim}, batch {args.batch}, weights x "
          f"{args.scale}, 1 thread, {args.rounds} interleaved rounds of {args.steps} steps")
    print(f"  subnormal gradient entries (IEEE)  {subnormal} of {g.numel()}")
    print(f"  step, IEEE subnormals              {ieee * 1e3:8.1f} ms")
    print(f"  step, flush-to-zero                {ftz * 1e3:8.1f} ms")
    print(f"  IEEE / flush                       {ieee / ftz:8.2f}x")


if __name__ == "__main__":
    main()
