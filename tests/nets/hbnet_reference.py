"""The hbnet56 reference run: what "bit for bit" is checked on (issue 23, item 1).

:func:`reference_run` builds hbnet56 at seed 0 with whichever ``optnet_nets`` is importable,
runs a fixed batch in eval mode, then in train mode, takes one SGD step (Nesterov momentum 0.9,
weight decay 1e-4, Sec. 7.1) and evaluates again. It returns every output and the state_dict
after the step (weights and BatchNorm statistics), on one thread.

``python -m tests.nets.hbnet_reference OUT.pt`` saves that run. ``hbnet56_reference.pt`` beside
this file was saved so from the code before the one-builder rework (commit
:data:`REFERENCE_REV`): the outputs and the small tensors in full, and the SHA-256 of every
tensor's bytes (the convolution weights, 3.4 MB in all, only by hash).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable

import torch
from torch import Tensor, nn

#: the commit of the code the fixture was saved from (main before the one-builder rework).
REFERENCE_REV = "cd2398953bde76984a368e4feb3c361b1bec90f5"
#: tensors with at most this many elements are stored in full in the fixture.
FULL_LIMIT = 5000


def reference_run(create_model: Callable[..., nn.Module]) -> dict[str, Tensor]:
    """Outputs (``out.eval``, ``out.train``, ``out.after``) and ``state.*`` after one step."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model = create_model("hbnet56")
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(4, 3, 32, 32, generator=gen)
        y = torch.randint(0, 10, (4,), generator=gen)
        model.eval()
        with torch.no_grad():
            out_eval = model(x)
        model.train()
        out_train = model(x)
        nn.functional.cross_entropy(out_train, y).backward()
        opt = torch.optim.SGD(
            model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4
        )
        opt.step()
        model.eval()
        with torch.no_grad():
            out_after = model(x)
        run = {"out.eval": out_eval, "out.train": out_train.detach(), "out.after": out_after}
        run.update({f"state.{k}": v.detach().clone() for k, v in model.state_dict().items()})
        return run
    finally:
        torch.set_num_threads(threads)


def digest(t: Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and bytes: equal digests mean equal bits."""
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def fixture(run: dict[str, Tensor]) -> dict[str, object]:
    """What the saved fixture holds: digests of all, small tensors in full, the platform."""
    return {
        "digests": {k: digest(v) for k, v in run.items()},
        "full": {k: v for k, v in run.items() if v.numel() <= FULL_LIMIT},
        "platform": platform(),
    }


def platform() -> str:
    """torch version and CPU kernel capability: bits are compared only on the same ones."""
    return f"torch {torch.__version__}, cpu {torch.backends.cpu.get_cpu_capability()}"


if __name__ == "__main__":
    from optnet_nets.models import create_model

    torch.save(fixture(reference_run(create_model)), sys.argv[1])
