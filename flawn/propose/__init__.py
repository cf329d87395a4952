"""Proposing the next mixtures of a sweep: a GP surrogate of score ~ mixture, and a batch.

:func:`propose_mixtures` is the entry point (``flawn propose`` calls it):
finished runs in (mixture shares, score, standard error), the next ``k``
mixtures out, each with its predicted score and a 95% interval. The modules,
one noun each:

* :mod:`~flawn.propose.simplex`: constraints and the feasible mixtures;
* :mod:`~flawn.propose.surrogate`: the Gaussian-process surrogate;
* :mod:`~flawn.propose.acquisition`: batch selection (expected improvement,
  Thompson sampling);
* :mod:`~flawn.propose.simulation`: validation against a grid on simulated
  response surfaces with known optima;
* :mod:`~flawn.propose.observations`: a finished sweep's realised mixtures and
  objective scores;
* :mod:`~flawn.propose.writer`: the proposals as the next experiment file.

Nothing here imports TensorFlow or JAX.
"""

from flawn.propose.proposal import Proposal, propose_mixtures
from flawn.propose.simplex import Constraints, GroupMinimum

__all__ = ["Constraints", "GroupMinimum", "Proposal", "propose_mixtures"]
