"""A built network's per-layer coefficients as plain floats: the method the network runs.

Read backwards through the relaxation rule of Sec. 6 (:mod:`optnet_nets.models.method_rule`:
T_k plays the gradient step y - grad f(y), L = 1), a method-net (``ogmnet56``, ...,
:mod:`optnet_nets.models.method_net`) or an HB-Net of (16)/(17) (``hbnet*``) is the linear
system xi_{k+1} = A_k xi_k + B_k u_k, y_k = C_k xi_k, x = D xi. :func:`net_coefficients` returns
its (A_k, B_k, C_k, D) per layer, with the trained values of learnable coefficients, and
:meth:`NetCoefficients.method` makes it a :class:`~optnet_theory.methods.Method` (for
``optnet certify --from-run``: load the run's weights into ``create_model(name, **options)``,
then read it here).

Stage transitions are read as the identity (the shortcut maps every slot alike). A momentum
restart before a stage, xi = initial (x) (D xi), is folded into that stage's first layer:
A_k R and C_k R with R = initial D^T, so the returned layers alone run the network's recurrence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from optnet_nets.models.method_rule import Update, relaxed_layer, restore
from optnet_nets.models.stage import MethodNet, MethodStage
from optnet_theory.errors import OptnetError
from optnet_theory.learned import LearnedSchedule, learned_method
from optnet_theory.methods import Method, MethodSpec, Params, Step

__all__ = ["NetCoefficients", "heavy_ball_betas", "heavy_ball_schedule", "net_coefficients"]


@dataclass(frozen=True)
class NetCoefficients:
    """``steps[k]`` = (A_k, B_k, C_k, D) of layer k (floats, L = 1, restarts folded in; D is
    the read-out of layer k's stage), from xi_0 = ``initial`` (x) x_0; ``source`` says what was
    read (e.g. ``"ogmnet: learnable coefficients of ogm"``)."""

    source: str
    initial: tuple[float, ...]
    slots: tuple[str, ...]
    steps: tuple[Step, ...]

    @property
    def depth(self) -> int:
        return len(self.steps)

    def method(self, *, name: str = "learned", L: float = 1.0, mu: float = 0.0) -> Method:
        """This network's method (step 1/L: B and the T-weights scale with 1/L), for at most
        :attr:`depth` iterations."""
        steps, depth = self.steps, self.depth

        def schedule(j: int, p: Params) -> Step:
            if j > depth:
                raise OptnetError(f"the network has {depth} layers; asked for layer {j}")
            if j == depth:  # the read-out only: no motion, C = D = the last read-out
                last = steps[-1].D
                m = len(last)
                return Step(
                    A=tuple(tuple(p.ar.num(float(i == l)) for l in range(m)) for i in range(m)),
                    B=tuple(p.ar.zero() for _ in range(m)),
                    C=tuple(p.ar.num(v) for v in last),
                    D=tuple(p.ar.num(v) for v in last),
                )
            st, s = steps[j], p.ar.one() / p.L
            return Step(
                A=tuple(tuple(p.ar.num(v) for v in row) for row in st.A),
                B=tuple(p.ar.num(v) * s for v in st.B),
                C=tuple(p.ar.num(v) for v in st.C),
                D=tuple(p.ar.num(v) for v in st.D),
            )

        spec = MethodSpec(
            name=name,
            source=self.source,
            function_class="smooth-convex",
            slots=self.slots,
            initial=self.initial,
            schedule=schedule,
            output="x",
            metric="function-gap",
            guarantee="none published: the PEP certificate is its guarantee",
        )
        return spec.bind(L=L, mu=mu)


def _fold_restart(step: Step, initial: Sequence[float], readout: Sequence[float]) -> Step:
    """(A R, B, C R, D) with R = initial readout^T: the restart xi = initial (x) (D xi) first."""
    R = np.outer(initial, readout)
    A = np.asarray(step.A, dtype=float) @ R
    C = np.asarray(step.C, dtype=float) @ R
    return Step(
        A=tuple(tuple(float(v) for v in row) for row in A),
        B=step.B,
        C=tuple(float(v) for v in C),
        D=step.D,
    )


def _method_net(model: MethodNet) -> NetCoefficients:
    assert model.method is not None
    spec = model.method.spec
    m = spec.state_size
    restart = model.momentum == "restart"
    initial = model.initial + (0.0,) * (m - len(model.initial))  # the dense form: x, then u's
    steps: list[Step] = []
    size = len(model.initial)
    for s, stage in enumerate(model.stages):
        assert isinstance(stage, MethodStage)
        r = s if restart else 0
        D = _floats(model.readouts[r] if model.readout is None else model.readout[r])
        D += (0.0,) * (m - len(D))
        if restart and s > 0:
            size = len(model.initial)
        for k, layer in enumerate(stage.layers):
            st = restore(relaxed_layer(layer, stage.number, m, size), D)
            size = len(layer.slots)
            if restart and s > 0 and k == 0:
                st = _fold_restart(st, initial, steps[-1].D)
            steps.append(st)
    kind = "fixed" if model.readout is None and not _learns(model) else "learnable"
    return NetCoefficients(
        f"method-net of {spec.name}, {kind} coefficients, momentum={model.momentum}",
        initial, spec.slots, tuple(steps),
    )


def _learns(model: MethodNet) -> bool:
    """Whether a network's stages learn coefficients."""
    return any(True for stage in model.stages for _ in stage.parameters(recurse=False))


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def heavy_ball_betas(model: nn.Module) -> LearnedSchedule | None:
    """(beta1_k, beta2_k) of every layer of a network of (16)/(17) (ResNet included), trained
    values of learnable ones included, and the layers where a stage restarts the momentum;
    None for any other network."""
    if not isinstance(model, MethodNet) or model.equation not in ("16", "17"):
        return None
    beta1: list[float] = []
    beta2: list[float] = []
    restarts: set[int] = set()
    for stage in model.stages:
        assert isinstance(stage, MethodStage)
        if model.momentum == "restart":
            restarts.add(len(beta1))
        for layer in stage.layers:
            update = layer.slots[0]
            assert isinstance(update, Update)  # heavy_ball_layer: (x_{k+1}, x_k)
            beta1.append(stage.number(update.skip[0]))
            beta2.append(stage.number(update.skip[1]))
    return LearnedSchedule(model.equation, tuple(beta1), tuple(beta2), frozenset(restarts))


def heavy_ball_schedule(model: nn.Module) -> LearnedSchedule:
    """The (beta1_k, beta2_k) of every layer of an HB-Net of (16) or (17), trained values of
    learnable ones included, and the layers where a stage restarts the momentum."""
    schedule = heavy_ball_betas(model)
    if schedule is None:
        raise OptnetError(f"{type(model).__name__} is not a network of (16)/(17)")
    if any(stage.activation is not None for stage in model.stages):  # type: ignore[union-attr]
        raise OptnetError(
            "the network applies Phi after each sum (ResNet's activate_sum=True): its "
            "recurrence is not a linear method"
        )
    return schedule


@torch.no_grad()
def net_coefficients(model: nn.Module) -> NetCoefficients:
    """(A_k, B_k, C_k, D) of every layer of a built method-net or HB-Net (module docstring)."""
    if isinstance(model, MethodNet) and model.method is not None:
        return _method_net(model)
    if heavy_ball_betas(model) is not None:
        schedule = heavy_ball_schedule(model)
        method = learned_method(schedule)
        steps = method.coefficients(schedule.depth)[: schedule.depth]
        return NetCoefficients(
            f"HB-Net read through {schedule.rule}, momentum={model.momentum}",
            tuple(float(v) for v in method.spec.initial), method.spec.slots,
            tuple(steps),
        )
    raise OptnetError(
        f"net_coefficients reads method-nets (ogmnet*, tmmnet*, itemnet*) and HB-Nets (hbnet*); "
        f"got {type(model).__name__}"
    )
