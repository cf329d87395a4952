"""The data plan: what a run will draw from each source, before anything trains.

For a mixture, a number of steps, a batch size and feature lengths, the plan
lists per source: the rate as declared (with its unit and the path through
nested mixtures), the share of examples it gets, the examples and tokens a
run of that length is expected to draw, and how many epochs that is over the
source. The number of examples per packed row is measured on the real
pipeline rather than guessed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from flawn.mixtures.registry import _SPECS
from flawn.mixtures.stats import DEFAULT_SAMPLE, tasks_stats


@dataclasses.dataclass(frozen=True)
class PlanRow:
    """One source of a plan.

    Attributes:
        source: The seqio task.
        rate: The declared rate(s) on the path from the mixture to this task.
        share: Fraction of all examples drawn from this task.
        num_examples: Examples in the task's split.
        expected_examples: Examples a run of the planned length draws from it.
        expected_tokens: Input plus target tokens of those examples, after trimming.
        epochs: ``expected_examples / num_examples``.
    """

    source: str
    rate: str
    share: float
    num_examples: int
    expected_examples: float
    expected_tokens: float
    epochs: float


@dataclasses.dataclass(frozen=True)
class MixturePlan:
    """A resolved plan (see the module docstring).

    Attributes:
        mixture: The mixture or task planned.
        steps: Training steps.
        batch_size: Rows per step.
        lengths: Feature lengths.
        pack: Whether rows are packed.
        examples_per_row: Mean examples per (packed) row.
        rows: One per source, largest share first.
        measured: Whether ``examples_per_row`` was measured on the pipeline
            (else simulated on sampled token lengths).
    """

    mixture: str
    steps: int
    batch_size: int
    lengths: Mapping[str, int]
    pack: bool
    examples_per_row: float
    rows: tuple[PlanRow, ...]
    measured: bool = True

    @property
    def total_examples(self) -> float:
        """Examples the whole run draws."""
        return self.steps * self.batch_size * self.examples_per_row

    def as_dict(self) -> dict:
        """A JSON-friendly view."""
        out = dataclasses.asdict(self)
        out["lengths"] = dict(self.lengths)
        out["total_examples"] = self.total_examples
        return out

    def to_json(self) -> str:
        """The plan as indented JSON."""
        return json.dumps(self.as_dict(), indent=2)

    def scaled(self, steps: int, batch_size: int) -> MixturePlan:
        """The same plan for another run length (shares and per-row packing are unchanged)."""
        factor = (steps * batch_size) / (self.steps * self.batch_size)
        rows = tuple(
            dataclasses.replace(
                r,
                expected_examples=r.expected_examples * factor,
                expected_tokens=r.expected_tokens * factor,
                epochs=r.epochs * factor,
            )
            for r in self.rows
        )
        return dataclasses.replace(self, steps=steps, batch_size=batch_size, rows=rows)

    def format_table(self) -> str:
        """The plan as a Markdown table with a header line."""
        import pandas as pd  # deferred: keep import light for callers that only need JSON

        frame = pd.DataFrame([dataclasses.asdict(r) for r in self.rows])
        frame["share"] = frame["share"].map(lambda v: f"{100 * v:.2f}%")
        for column in ("expected_examples", "expected_tokens"):
            frame[column] = frame[column].map(lambda v: f"{v:,.0f}")
        frame["num_examples"] = frame["num_examples"].map(lambda v: f"{v:,}")
        frame["epochs"] = frame["epochs"].map(lambda v: f"{v:.3g}")
        header = (
            f"Plan for {self.mixture}: {self.steps} steps x {self.batch_size} rows "
            f"({'packed' if self.pack else 'unpacked'}, lengths {dict(self.lengths)}), "
            f"{self.examples_per_row:.2f} examples/row "
            f"{'measured' if self.measured else 'simulated on sampled lengths'} -> "
            f"{self.total_examples:,.0f} examples"
        )
        return header + "\n\n" + frame.to_markdown(index=False, disable_numparse=True)


def rate_paths(name: str) -> dict[str, str]:
    """For each task under a mixture, the declared rates on the path to it.

    Returns:
        ``{task: "outer rate > inner rate"}``; for a plain task, ``{task: "single task"}``.
    """
    spec = _SPECS.get(name)
    if spec is None:
        return {name: "single task"}
    paths: dict[str, str] = {}
    for component, rate in spec.components:
        step = f"{component}: {rate.describe()}" if component in _SPECS else rate.describe()
        for task, inner in rate_paths(component).items():
            paths[task] = step if inner == "single task" else f"{step} > {inner}"
    return paths


def measure_examples_per_row(
    name: str,
    lengths: Mapping[str, int],
    pack: bool,
    batches: int = 8,
    batch_size: int = 32,
    seed: int = 0,
) -> float:
    """Mean number of examples per row of the real (packed) pipeline."""
    if not pack:
        return 1.0
    from flawn.train.data import train_batches

    stream = train_batches(name, lengths, batch_size, seed=seed, pack=True)
    segments = rows = 0
    for _ in range(batches):
        batch = next(stream, None)
        if batch is None:
            from flawn.errors import FlawnError
            from flawn.sources.policy import bad_record_policy

            policy = bad_record_policy()
            why = (
                "under the 'skip' bad-record policy every record was skipped; fix or remove "
                "the files, whose counts bad_records.json and the warnings name"
                if policy == "skip"
                else f"the bad-record policy is {policy!r}, so no record was skipped: "
                "its sources hold none"
            )
            raise FlawnError(
                f"{name} yields no training examples: its sources have no usable records ({why})"
            )
        segments += int(batch["decoder_segment_ids"].max(axis=1).sum())
        rows += batch["decoder_segment_ids"].shape[0]
    return segments / rows


def estimate_examples_per_row(
    name: str,
    lengths: Mapping[str, int],
    pack: bool,
    sample: int = DEFAULT_SAMPLE,
    draws: int = 4096,
    seed: int = 0,
) -> float:
    """Examples per packed row, simulated on sampled token lengths instead of the pipeline.

    Draws ``draws`` examples by the mixture's rates from each task's sampled
    lengths (trimmed as training trims them, EOS included) and packs them in
    order as seqio does: an example joins the current row if both its input
    and its target still fit, otherwise it starts a new row. Much faster than
    :func:`measure_examples_per_row` on large mixtures; close to it when the
    sample is representative.
    """
    import numpy as np
    import seqio  # deferred: pulls in TensorFlow

    if not pack:
        return 1.0
    provider = seqio.get_mixture_or_task(name)
    tasks = list(getattr(provider, "tasks", [provider]))
    if isinstance(provider, seqio.Mixture):
        weights = np.array([provider.get_rate(t) for t in tasks], dtype=float)
    else:
        weights = np.ones(1)
    measured = tasks_stats(
        [t.name for t in tasks], sample=sample, lengths=tuple(sorted(lengths.items()))
    )
    stats = [measured[t.name] for t in tasks]
    rng = np.random.default_rng(seed)
    which = rng.choice(len(tasks), size=draws, p=weights / weights.sum())
    rows, used_in, used_tg, filled = 0, 0, 0, False
    for index in which:
        task = stats[index]
        if not task.input_lengths:
            continue
        pick = int(rng.integers(len(task.input_lengths)))
        n_in = min(task.input_lengths[pick], lengths["inputs"])
        n_tg = min(task.target_lengths[pick], lengths["targets"])
        if filled and used_in + n_in <= lengths["inputs"] and used_tg + n_tg <= lengths["targets"]:
            used_in, used_tg = used_in + n_in, used_tg + n_tg
        else:
            rows += 1
            used_in, used_tg, filled = n_in, n_tg, True
    return draws / max(rows, 1)


def plan_mixture(
    name: str,
    steps: int,
    batch_size: int,
    lengths: Mapping[str, int],
    pack: bool = True,
    sample: int = DEFAULT_SAMPLE,
    measure: bool = True,
) -> MixturePlan:
    """Resolves what a run will draw from each source of a mixture (or task).

    Args:
        name: A registered seqio mixture or task.
        steps: Training steps.
        batch_size: Rows per step.
        lengths: ``{"inputs": n, "targets": m}``.
        pack: Whether rows are packed.
        sample: Examples per task used to estimate token lengths.
        measure: Measure examples per packed row on the real pipeline (else
            simulate packing on sampled lengths, see :func:`estimate_examples_per_row`).

    Returns:
        The plan.
    """
    import seqio  # deferred: pulls in TensorFlow

    provider = seqio.get_mixture_or_task(name)
    tasks = list(getattr(provider, "tasks", [provider]))
    if isinstance(provider, seqio.Mixture):
        weights = {t.name: provider.get_rate(t) for t in tasks}
    else:
        weights = {provider.name: 1.0}
    total_weight = sum(weights.values())
    paths = rate_paths(name)
    per_row = (
        measure_examples_per_row(name, lengths, pack)
        if measure
        else estimate_examples_per_row(name, lengths, pack, sample)
    )
    total_examples = steps * batch_size * per_row
    measured = tasks_stats(
        [t.name for t in tasks], sample=sample, lengths=tuple(sorted(lengths.items()))
    )
    rows = []
    for task in tasks:
        stats = measured[task.name]
        share = weights[task.name] / total_weight
        expected = share * total_examples
        tokens_per_example = stats.mean_tokens("inputs", lengths["inputs"]) + stats.mean_tokens(
            "targets", lengths["targets"]
        )
        rows.append(
            PlanRow(
                source=task.name,
                rate=paths.get(task.name, "?"),
                share=share,
                num_examples=stats.num_examples,
                expected_examples=expected,
                expected_tokens=expected * tokens_per_example,
                epochs=expected / stats.num_examples if stats.num_examples else float("inf"),
            )
        )
    rows.sort(key=lambda r: (-r.share, r.source))
    return MixturePlan(
        name, steps, batch_size, dict(lengths), pack, per_row, tuple(rows), measure or not pack
    )
