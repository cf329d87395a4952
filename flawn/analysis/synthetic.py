"""Simulated sweep results in flawn's run-folder format, for tests, benchmarks and power analysis.

:func:`write_sweep` writes run folders exactly as an evaluated sweep leaves
them (``spec.json``, ``eval/<id>/eval.json``, ``tasks.jsonl`` and the
per-example rows), with per-example correctness drawn from known
probabilities: a per-task baseline accuracy, plus a per-condition effect, plus
a per-seed offset. Because the true differences are known, it answers "would
this sweep detect a 2-point gain?" before any GPU is spent, and it feeds the
scale benchmark. Task scores are computed from the drawn items with each
task's metric (balanced accuracy over the gold classes, or accuracy).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from flawn.results import EXAMPLES_FILE, TASK_COLUMNS, TASKS_FILE, RunInfo, write_rows


@dataclasses.dataclass(frozen=True)
class SimulatedTask:
    """One task of a simulated suite.

    Attributes:
        name: Task name.
        n: Test items.
        classes: Gold classes (1 = scored by accuracy, else balanced accuracy).
        base: The baseline's probability of a correct answer.
        category: The task's group in its benchmark.
    """

    name: str
    n: int
    classes: int
    base: float
    category: str = ""


def legalbench_tasks(scale: float = 1.0, seed: int = 0) -> list[SimulatedTask]:
    """LegalBench's tasks as listed in flawn's task table (test sizes x ``scale``), rule_qa out."""
    from flawn.analysis.rules import rule_for_suite

    table = pd.read_csv(
        pathlib.Path(__file__).resolve().parent.parent / "evals" / "legalbench" / "task_table.tsv",
        sep="\t",
    )
    rule = rule_for_suite("legalbench")
    rng = np.random.default_rng(seed)
    out = []
    for row in table.itertuples(index=False):
        if row.task in rule.excluded:
            continue
        classes = 2 if row.metric == "balanced_accuracy" else 1
        out.append(
            SimulatedTask(
                row.task,
                max(4, round(row.n_test * scale)),
                classes,
                float(rng.uniform(0.4, 0.8)),
                row.category,
            )
        )
    return out


def simulate_run(
    tasks: Sequence[SimulatedTask],
    effect: float | Mapping[str, float],
    seed_offset: float,
    rng: np.random.Generator,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{task: (gold class codes, correct 0/1)}`` for one run (``effect`` by task, or one)."""
    out = {}
    for task in tasks:
        gold = np.arange(task.n) % task.classes
        gain = effect[task.name] if isinstance(effect, Mapping) else effect
        p = float(np.clip(task.base + gain + seed_offset, 0.0, 1.0))
        out[task.name] = (gold, (rng.random(task.n) < p).astype(float))
    return out


def task_score(gold: np.ndarray, correct: np.ndarray, classes: int) -> float:
    """Accuracy, or balanced accuracy (mean per-class accuracy) when there are several classes."""
    if classes == 1:
        return float(correct.mean())
    return float(np.mean([correct[gold == c].mean() for c in range(classes)]))


def write_sweep(
    root: str | pathlib.Path,
    tasks: Sequence[SimulatedTask],
    effects: Mapping[str, float],
    sizes: Sequence[str] = ("small",),
    seeds: Sequence[int] = (0,),
    seed_sd: float = 0.0,
    suite: str = "legalbench",
    sweep: str = "simulated",
    size_effect: float = 0.05,
    parquet_only: bool = False,
    seed: int = 0,
    effect_of: Callable[[str, str, SimulatedTask], float] | None = None,
) -> list[pathlib.Path]:
    """Writes an evaluated sweep: one run per size x condition x seed.

    Args:
        root: The sweep folder.
        tasks: The suite's tasks.
        effects: ``{mixture: true gain in accuracy}``; the first is the baseline (gain 0).
        sizes: Model sizes (each adds ``size_effect`` over the previous).
        seeds: Seeds per condition.
        seed_sd: Standard deviation of a seed's offset in accuracy.
        suite: The suite name written into the rows.
        sweep: The sweep name.
        size_effect: Accuracy gained per size step.
        parquet_only: Write the per-example rows as ``examples.parquet`` only
            (the loader's own format) instead of JSON Lines, for large sweeps.
        seed: Seed of the simulation.
        effect_of: ``(mixture, size, task) -> true gain`` replacing the
            values of ``effects`` (whose keys still name the mixtures), for
            gains that change with size and category (size extrapolation).

    Returns:
        The run folders.
    """
    root = pathlib.Path(root)
    rng = np.random.default_rng(seed)
    folders = []
    metric = {t.name: ("balanced_accuracy" if t.classes > 1 else "accuracy") for t in tasks}
    for s_index, size in enumerate(sizes):
        for mixture, effect in effects.items():
            for run_seed in seeds:
                axes = {"mixture": mixture, "size": size, "regime": "finetune", "seed": run_seed}
                run_id = f"{size}-{mixture}-{run_seed}".replace(".", "_")
                info = RunInfo(run_id, "/".join(map(str, axes.values())), sweep, mixture, size,
                               "finetune", run_seed, axes=axes)  # fmt: skip
                folder = root / run_id
                gain = {t.name: effect_of(mixture, size, t) for t in tasks} if effect_of else effect
                step = s_index * size_effect
                gain = {k: v + step for k, v in gain.items()} if effect_of else gain + step
                results = simulate_run(tasks, gain, rng.normal(0, seed_sd), rng)
                _write_run(folder, info, tasks, results, metric, suite, parquet_only)
                folders.append(folder)
    (root / "manifest.json").write_text(
        json.dumps({"sweep": sweep, "baseline": {"mixture": next(iter(effects))}, "runs": {}})
    )
    return folders


def _write_run(folder, info, tasks, results, metric, suite, parquet_only) -> None:
    eval_id = f"{suite}.generation-sim"
    spec = {"run_id": info.run_id, "sweep": info.sweep, "name": info.run_name, "axes": info.axes,
            "stages": [{"name": "finetune", "mixture": info.mixture, "steps": 1}]}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(json.dumps(spec))
    target = folder / "eval" / eval_id
    target.mkdir(parents=True, exist_ok=True)
    identity = {**info.as_row(), "eval_id": eval_id, "suite": suite, "mode": "generation"}
    task_rows = []
    for task in tasks:
        gold, correct = results[task.name]
        task_rows.append(
            {
                **identity,
                "task": task.name,
                "category": task.category,
                "metric": metric[task.name],
                "score": task_score(gold, correct, task.classes),
                "n": task.n,
                "n_truncated": 0,
                "abstention_rate": None,
            }
        )
    write_rows(target / TASKS_FILE, task_rows, TASK_COLUMNS)
    if parquet_only:
        _write_parquet(target, info, identity, tasks, results)
    else:
        rows = (
            {**identity, "task": t.name, "example": str(i), "prompt_hash": "", "prediction": "",
             "gold": f"class{g}", "metric": "exact_match", "value": float(v), "truncated": False}
            for t in tasks for i, (g, v) in enumerate(zip(*results[t.name], strict=True))
        )  # fmt: skip
        from flawn.results import EXAMPLE_COLUMNS

        write_rows(target / EXAMPLES_FILE, rows, EXAMPLE_COLUMNS)
    spec_eval = {"suite": suite, "mode": "generation", "simulated": True}
    (target / "eval.json").write_text(
        json.dumps({"eval_id": eval_id, "spec": spec_eval, "describe": f"simulated {suite}"})
    )


def _write_parquet(target, info, identity, tasks, results) -> None:
    """The per-example rows in the loader's parquet format (see flawn.analysis.loading)."""
    n = sum(t.n for t in tasks)
    columns = {
        k: pd.Categorical([v] * 1) for k, v in info.as_row().items() if k not in ("axes", "seed")
    }
    frame = pd.DataFrame({k: c.repeat(n) for k, c in columns.items()})
    frame["seed"] = info.seed
    frame["suite"] = pd.Categorical([identity["suite"]]).repeat(n)
    frame["mode"] = pd.Categorical([identity["mode"]]).repeat(n)
    frame["task"] = pd.Categorical(np.repeat([t.name for t in tasks], [t.n for t in tasks]))
    frame["example"] = pd.Categorical(np.concatenate([np.arange(t.n) for t in tasks]).astype(str))
    frame["gold"] = pd.Categorical(np.concatenate([results[t.name][0] for t in tasks]).astype(str))
    frame["value"] = np.concatenate([results[t.name][1] for t in tasks])
    for name, value in info.axes.items():
        frame[f"axis.{name}"] = pd.Categorical([str(value)]).repeat(n)
    frame["eval_key"] = "sim"
    frame.to_parquet(target / "examples.parquet", index=False)
