"""Antiderivative engine for the energy Psi of Lemma 1 (Psi' = Phi, eq. (8)).

Modelled on SymPy's ``manualintegrate``: a chain of small strategies, each of which either
applies (returning an antiderivative and a human-readable step) or declines. Entry points:
:func:`optnet_theory.antiderivative.piecewise.antiderivative_on_reals` (whole real line,
piecewise integrands included) and :func:`optnet_theory.antiderivative.rules.integrate_smooth`.
"""
