"""An evaluation suite (an :class:`~flawn.runs.EvalSpec`) as seqio tasks, for ``t5x.infer``.

T5X evaluates and infers on seqio tasks and mixtures only. The official
benchmarks already are tasks (``legalbench.<task>``, ``lawbench.<id>.<shot>``,
:mod:`flawn.tasks.benchmarks`); a LegalBench-format suite folder (the bundled
``sample`` suite, or any folder with ``tasks.tsv`` and ``tasks/<name>/``) is
registered here as ``suite.<suite>.<task>``, with the same sources,
preprocessing (item-safe prompt fitting), postprocessing and metrics.

:func:`eval_mixture` is what the T5X gin files call (``@eval_tasks.eval_mixture()``):
it registers what the suite needs in the T5X process and returns the name of
a mixture of its tasks, so one gin binding names a whole suite.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from collections.abc import Iterator, Sequence

from flawn.errors import ConfigError
from flawn.runs.spec import EvalSpec, content_hash

#: Prefix of the tasks of a LegalBench-format suite folder.
SUITE_PREFIX = "suite."
#: Prefix of the mixtures :func:`eval_mixture` registers.
MIXTURE_PREFIX = "flawn_eval."


def _safe(name: str) -> str:
    return re.sub(r"[^\w]", "_", name)


def suite_task_name(suite_name: str, task: str) -> str:
    """The seqio name of one task of a LegalBench-format suite folder."""
    return f"{SUITE_PREFIX}{_safe(suite_name)}.{_safe(task)}"


def _vocabulary():
    from flawn import paths
    from flawn.vocab import load_vocabulary

    return load_vocabulary(os.environ.get("FLAWN_VOCABULARY", str(paths.SAMPLE_VOCAB)))


def register_suite(suite: str, tasks: Sequence[str] | None = None) -> list[str]:
    """Registers a LegalBench-format suite folder's tasks (``train`` and ``test`` splits).

    Args:
        suite: ``sample`` (bundled) or a folder with ``tasks.tsv`` and ``tasks/<name>/``.
        tasks: Only these tasks (default: every task in ``tasks.tsv``).

    Returns:
        The seqio task names, in ``tasks.tsv`` order.
    """
    import seqio

    from flawn.evals.legalbench.tasks import load_suite
    from flawn.evals.suites import suite_dir
    from flawn.tasks.benchmarks import (
        LegalBenchSource,
        benchmark_preprocessors,
        first_line,
        legalbench_metric,
    )
    from flawn.tasks.features import text_output_features

    class SuiteSource(LegalBenchSource):
        """One task of a suite folder: its rows come from the folder, not LegalBench's table."""

        def _rows(self, split: str) -> Iterator[dict[str, str]]:
            from flawn.tasks.benchmarks import FIELDS_FEATURE

            loaded = load_suite(self._prompts_dir, split, [self.task])[0]
            self._template = dataclasses.replace(loaded, examples=())
            for example in loaded.examples:
                yield {
                    "inputs": loaded.prompt(example),
                    "targets": example.answer,
                    "idx": str(example.index),
                    FIELDS_FEATURE: json.dumps(example.fields, ensure_ascii=False),
                }

    root = suite_dir(suite)
    spec = EvalSpec(suite=suite)
    vocabulary = _vocabulary()
    names = []
    for task in load_suite(root, "test", list(tasks) if tasks else None):
        name = suite_task_name(spec.suite_name, task.name)
        names.append(name)
        if name in seqio.TaskRegistry.names():
            continue
        # ``data`` only decides the splits: a suite folder holds train and test rows.
        source = SuiteSource(task.name, os.fspath(root), os.fspath(root), vocabulary)
        seqio.TaskRegistry.add(
            name,
            source=source,
            preprocessors=benchmark_preprocessors(source),
            output_features=text_output_features(vocabulary),
            postprocess_fn=first_line,
            metric_fns=[functools.partial(legalbench_metric, task.name, task.metric)],
        )
    return names


def task_names(spec: EvalSpec) -> list[str]:
    """The seqio tasks an evaluation scores, registering a suite folder's tasks first.

    Raises:
        ConfigError: If the benchmark's tasks are not registered (its files were not found).
    """
    import seqio

    import flawn.tasks  # noqa: F401  (registers legalbench.* and lawbench.* when found)

    if spec.suite == "lawbench":
        from flawn.evals.lawbench.tasks import task_table
        from flawn.tasks.benchmarks import lawbench_task_name

        names = [lawbench_task_name(t, spec.shot) for t in (spec.tasks or task_table())]
        hint = "set FLAWN_LAWBENCH_DIR to LawBench's data folder (zero_shot/, one_shot/)"
    elif spec.suite == "legalbench":
        from flawn.tasks.benchmarks import legalbench_task_name, register_legalbench_tasks

        if spec.legalbench_dir:
            register_legalbench_tasks(
                spec.legalbench_dir, _vocabulary(), spec.data, list(spec.tasks or ()) or None
            )
        names = [
            n
            for n in seqio.TaskRegistry.names()
            if n.startswith("legalbench.")
            and (not spec.tasks or n in {legalbench_task_name(t) for t in spec.tasks})
        ]
        hint = (
            "set FLAWN_LEGALBENCH_DIR (a LegalBench checkout) and FLAWN_LEGALBENCH_DATA (the "
            "official test rows)"
        )
    else:
        return register_suite(spec.suite, spec.tasks)
    missing = [n for n in names if n not in seqio.TaskRegistry.names()]
    if missing or not names:
        raise ConfigError(
            f"evaluation suite {spec.suite_name}: seqio task(s) {missing or names} are not "
            f"registered; {hint}"
        )
    test_less = [n for n in names if spec.split not in seqio.get_mixture_or_task(n).splits]
    if test_less:
        raise ConfigError(
            f"evaluation suite {spec.suite_name}: {test_less[:3]} have no {spec.split!r} split; "
            f"{hint}"
        )
    return sorted(names)


def mixture_name(spec: EvalSpec) -> str:
    """The name :func:`eval_mixture` registers a spec's tasks under."""
    digest = content_hash([spec.suite, spec.tasks, spec.shot, spec.legalbench_dir, spec.data], 8)
    return f"{MIXTURE_PREFIX}{_safe(spec.suite_name)}.{digest}"


def eval_mixture(
    suite: str = "sample",
    tasks: Sequence[str] | None = None,
    shot: str | None = None,
    split: str = "test",
    legalbench_dir: str | None = None,
    data: str | None = None,
) -> str:
    """Registers an evaluation suite's tasks and a mixture of them; returns the mixture's name.

    Called from T5X gin files (``@eval_tasks.eval_mixture()``), in the T5X
    process, when the dataset config that names it is built.

    Args:
        suite: The :class:`~flawn.runs.EvalSpec` suite.
        tasks: Its tasks (default: all).
        shot: LawBench's setting.
        split: The split scored.
        legalbench_dir: LegalBench checkout (``legalbench`` suite).
        data: Official LegalBench test rows (``legalbench`` suite).
    """
    import seqio

    spec = EvalSpec(
        suite=suite,
        tasks=tuple(tasks) if tasks else None,
        shot=shot,
        split=split,
        legalbench_dir=legalbench_dir,
        data=data,
    )
    names = task_names(spec)
    name = mixture_name(spec)
    if name not in seqio.MixtureRegistry.names():
        seqio.MixtureRegistry.add(name, [(n, 1.0) for n in names])
    return name
