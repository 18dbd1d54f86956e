"""TRANSCRIPTIONS of the paper's printed values and of published rates: the only hand-typed
numbers in optnet.

Everything here is copied from Li, Yang, Chen, Lin (arXiv:1810.01638) exactly as printed, or,
in ``PUBLISHED_RATES`` (written in the methods' definitions, read here), from the cited
sources, so that computed results can be set beside it. Nothing in this module is a result of
optnet, and no code may use these values in place of computing its own. Where the printed value
is wrong the correction lives in the code that derives it (and in ``docs/paper-map.md``),
never here.
"""

from __future__ import annotations

from typing import Any

from optnet_theory.lazy import computed_names

#: Table 2: MSE after 1,000 epochs, by structure and depth (Sec. 5.3), as printed.
TABLE2_DEPTHS: tuple[int, ...] = (10, 20, 30, 40)
TABLE2_MSE: dict[str, tuple[float, ...]] = {
    "ADMM (14)": (1.07576, 1.07495, 1.07665, 1.07749),
    "GD (7)": (1.00644, 1.00679, 1.00652, 1.00653),
    "HB (11)": (1.00443, 1.00449, 1.00455, 1.00457),
    "AGD (12)": (1.00270, 1.00215, 1.00204, 1.00213),
    "AGD2 (13)": (1.00745, 1.00227, 1.00086, 0.99964),
}

#: Table 4: CIFAR error rates (%) as printed; columns C10, C100, C10+, C100+.
TABLE4_COLUMNS: tuple[str, ...] = ("CIFAR-10", "CIFAR-100", "CIFAR-10(+)", "CIFAR-100(+)")
TABLE4_ERROR: dict[str, tuple[float, float, float, float]] = {
    "ResNet (n=9)": (10.05, 39.65, 5.32, 26.03),
    "HB-Net (16) (n=9)": (10.17, 38.52, 5.46, 26.0),
    "ResNet (n=18)": (9.17, 38.13, 5.06, 24.71),
    "HB-Net (16) (n=18)": (8.66, 36.4, 5.04, 23.93),
    "DenseNet (k=12, L=40)*": (7.0, 27.55, 5.24, 24.42),
    "AGD-Net (18) (k=12, L=40)": (6.44, 26.33, 5.2, 24.87),
    "DenseNet (k=12, L=52)": (6.05, 26.3, 5.09, 24.33),
    "AGD-Net (18) (k=12, L=52)": (5.75, 24.92, 4.94, 23.84),
}

#: Table 5: ImageNet single-crop error rates (%) as printed: (top-1, top-5).
TABLE5_ERROR: dict[str, tuple[float, float]] = {
    "ResNet-34": (26.73, 8.74),
    "HB-Net-34": (26.33, 8.56),
    "DenseNet-121": (25.02, 7.71),
    "AGD-Net-121": (24.62, 7.39),
}

#: Sec. 5.3 and 6.2: the fixed coefficients the paper states for its experiments.
SIMULATION_HB_BETA: float = 0.3  # beta in (11) for Table 2
AGDNET_BETA: float = 0.1  # beta in (21)
SIMULATION_SAMPLES: int = 10_000
SIMULATION_DIM: int = 100
SIMULATION_EPOCHS: int = 1_000


# --------------------------------------------------------------------------------------------
# Table 1 (Sec. 3, "The optimization objectives for the common activation functions").
# TRANSCRIPTION, exactly as printed, built as SymPy in code (no string parsing). Each row gives
# the printed activation Phi(x) and the printed summand Psi(t) of the objective
# f(x) = ||x||^2/2 - sum_i Psi(U_i^T x), written in the scalar variable x (t = U_i^T x).
# Printed errors are kept on purpose: optnet_theory.energy.table1 audits these rows against
# derivations and reports each erratum. C is the printed arbitrary constant (Softplus row).
# --------------------------------------------------------------------------------------------


def table1_transcription() -> dict[str, tuple[object, object]]:
    """Table 1 as printed: row label -> (printed Phi, printed Psi) as SymPy expressions."""
    import sympy as sp

    x = sp.Symbol("x", real=True)
    alpha = sp.Symbol("alpha", real=True)
    a = sp.Symbol("a", real=True)
    c = sp.Symbol("C", real=True)
    exp, log, polylog, pw = sp.exp, sp.log, sp.polylog, sp.Piecewise
    half = sp.Rational(1, 2)
    return {
        "Sigmoid": (1 / (1 + exp(-x)), x + log(1 / (exp(x) + 1))),
        "tanh": ((1 - exp(-2 * x)) / (1 + exp(-2 * x)), x + log(1 / (exp(2 * x) + 1))),
        "Softplus": (log(exp(x) + 1), c - polylog(2, -exp(x))),
        "Softsign": (
            x / (1 + sp.Abs(x)),
            pw((x - log(x + 1), x > 0), (-x - log(x - 1), True)),
        ),
        "ReLU": (pw((x, x > 0), (0, x <= 0)), pw((x**2 * half, x > 0), (0, True))),
        "Leaky ReLU": (
            pw((x, x > 0), (alpha * x, x <= 0)),
            pw((x**2 * half, x > 0), (alpha * x**2 * half, True)),
        ),
        "ELU": (
            pw((x, x > 0), (a * (exp(x) - 1), x <= 0)),
            pw((x**2 * half, x > 0), (a * (exp(x) - x), True)),
        ),
        "Swish": (
            x / (1 + exp(-x)),
            x**2 * half + x * log(1 / (exp(x) + 1)) - polylog(2, -1 / exp(x)),
        ),
    }


def published_rates() -> dict[str, Any]:
    """``PUBLISHED_RATES``: ``optnet rates`` variant -> (rate of kappa = L/mu, the formula as
    printed, its source), read from the registered methods' rate variants: each published rate
    is written once, in its method's definition
    (:class:`optnet_theory.methods.spec.RateVariant`)."""
    from optnet_theory.rates import rate_variants

    return {key: v.published for key, (_, v) in rate_variants().items()
            if v.published is not None}


#: names computed when read: the registry may have grown since import.
__getattr__ = computed_names(__name__, {"PUBLISHED_RATES": published_rates})
