"""The simulation experiment of Sec. 5.3 (Table 2), trained as one ensemble per depth.

Sec. 5.3: five fully connected structures (7), (11) with beta = 0.3, (14), (12), (13); sigmoid;
per-layer weights trained by model (15); 10,000 pairs (x_0, f) drawn from N(0, I) in dimension
100; depths 10-40; MSE after 1,000 epochs. Any registered method (ogm, ogmg, tmm, item, ...) runs
beside them: its network is generated from its description (:mod:`optnet_nets.unrolled`).
Methods for mu-strongly convex f (tmm, item) need mu; Sec. 5's instances have L = 1, and unless
``mu`` is given it is taken from the curvature bounds of the energy (8) (:func:`curvature_mu`).

For each depth all structures and all seeds train together in one
:class:`~optnet_nets.unrolled.UnrolledEnsemble` (one batched product per structure and layer).
Gradients are computed by the generated adjoint programs of
:mod:`optnet_nets.unrolled.adjoint` (``engine="autograd"`` for the reference), subnormal floats
are flushed to zero while training (deep GD's vanishing gradients made steps 2x slower, the
weights do not change), and ``workers`` trains several (depth, seed) units at once in separate
processes.
Nothing is lost when a run dies: a rerun with the same ``--out`` resumes.

One module per job:

- :mod:`~optnet_nets.simulate.config`: the settings (the paper's and our choices) and the
  method parameters they imply;
- :mod:`~optnet_nets.simulate.training`: one unit (build, resume, train, evaluate, record);
- :mod:`~optnet_nets.simulate.run`: units, worker processes, the GEMM peak, loading a run;
- :mod:`~optnet_nets.simulate.files`: the run folder's files, written so a kill loses nothing;
- :mod:`~optnet_nets.simulate.summary`: typed summary records and the paper's printed MSE;
- :mod:`~optnet_nets.simulate.table`: the one text rendering of Table 2;
- :mod:`~optnet_nets.simulate.output`: results.json, table2.csv and table2.png.
"""

from __future__ import annotations

from optnet_nets.simulate.config import (
    ENGINES,
    OPTIMIZERS,
    SimulateConfig,
    curvature_mu,
    method_arguments,
    quick_config,
)
from optnet_nets.simulate.output import plot_table, write_outputs
from optnet_nets.simulate.run import load_results, measure_gemm_peak, run_simulation
from optnet_nets.simulate.summary import SimulationResult, Table2Summary, paper_mse, summarize
from optnet_nets.simulate.table import Part, format_table, markdown, table2_parts

__all__ = [
    "ENGINES",
    "OPTIMIZERS",
    "Part",
    "SimulateConfig",
    "SimulationResult",
    "Table2Summary",
    "curvature_mu",
    "format_table",
    "load_results",
    "markdown",
    "measure_gemm_peak",
    "method_arguments",
    "paper_mse",
    "plot_table",
    "quick_config",
    "run_simulation",
    "summarize",
    "table2_parts",
    "write_outputs",
]
