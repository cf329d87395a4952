"""The ``t5x`` backend: T5X gin files, ``launch.sh`` and ``pod.sh`` for TPU pod slices.

* :mod:`flawn.t5x.backend`: :class:`~flawn.t5x.backend.T5XBackend` (``--backend t5x``);
* :mod:`flawn.t5x.plan`: a run resolved for T5X (steps counted as T5X counts them,
  starting checkpoints, evaluations), stored as ``<run>/t5x/plan.json``;
* :mod:`flawn.t5x.gin_files` and :mod:`flawn.t5x.scripts`: what is written into
  ``<run>/t5x/`` by :mod:`flawn.t5x.files` (the layout is :class:`flawn.t5x.layout.T5XLayout`);
* :mod:`flawn.t5x.eval_tasks`: an evaluation suite as seqio tasks for ``t5x.infer``;
* :mod:`flawn.t5x.score`: ``t5x.infer`` output back into flawn's tidy rows;
* :mod:`flawn.t5x.checkpoints`: flawn <-> T5X checkpoint conversion.

T5X itself is not a dependency of flawn: the scripts run it with
``${FLAWN_T5X_PYTHON:-python3}``, and reading T5X checkpoints needs only
tensorstore and msgpack. Importing this package imports neither T5X,
TensorFlow nor JAX.
"""
