"""Token statistics of tasks, estimated from a sample, for token rates and plans."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence

import numpy as np

#: Examples read per task to estimate token lengths.
DEFAULT_SAMPLE = 500


@dataclasses.dataclass(frozen=True)
class TaskStats:
    """Size of one task's split, in examples and (estimated) tokens.

    Token lengths are those of the tokenized features including EOS, measured
    on the first ``sampled`` examples of the unshuffled split; totals are the
    sample means times ``num_examples`` (exact when the sample is the whole split).

    Attributes:
        name: The task.
        num_examples: Examples in the split.
        sampled: How many examples the lengths were measured on.
        input_lengths: Token lengths of ``inputs`` of the sampled examples.
        target_lengths: Token lengths of ``targets`` of the sampled examples.
    """

    name: str
    num_examples: int
    sampled: int
    input_lengths: tuple[int, ...]
    target_lengths: tuple[int, ...]

    def mean_tokens(self, feature: str, max_length: int | None = None) -> float:
        """Mean tokens per example of ``inputs``, ``targets`` or ``inputs+targets``.

        Args:
            feature: Which feature(s).
            max_length: Trim each length to this first (as training does); for
                ``inputs+targets`` give the larger of the two limits or None.
        """
        lengths = {
            "inputs": np.asarray(self.input_lengths),
            "targets": np.asarray(self.target_lengths),
        }
        if feature == "inputs+targets":
            values = lengths["inputs"] + lengths["targets"]
        elif feature in lengths:
            values = lengths[feature]
        else:
            raise ValueError(f"feature must be inputs, targets or inputs+targets, got {feature!r}")
        if max_length is not None:
            values = np.minimum(values, max_length)
        return float(values.mean()) if len(values) else 0.0

    def total_tokens(self, feature: str = "inputs+targets") -> float:
        """Estimated tokens of the whole split."""
        return self.mean_tokens(feature) * self.num_examples


#: Measured stats, by (task, split, sample, lengths); shared by the one-task and grouped paths.
_CACHE: dict[tuple, TaskStats] = {}

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

#: Overwritten with each example's position in a grouped measurement. It is passthrough
#: metadata, never part of ``inputs`` or ``targets``, so lengths are unaffected.
_GROUP_INDEX_FIELD = "dataset_name"


def task_stats(
    task_name: str,
    split: str = "train",
    sample: int = DEFAULT_SAMPLE,
    lengths: tuple[tuple[str, int], ...] | None = None,
) -> TaskStats:
    """Measures a registered task (cached per process).

    Args:
        task_name: A registered task.
        split: Its split.
        sample: Examples to measure.
        lengths: ``(("inputs", n), ("targets", m))``: build the dataset at these
            lengths (features trimmed to them). Tasks whose preprocessing
            depends on the lengths (T5 span corruption) need them.

    Raises:
        ValueError: If the task does not know its number of examples.
    """
    import seqio  # deferred: pulls in TensorFlow

    key = (task_name, split, sample, lengths)
    if key in _CACHE:
        return _CACHE[key]
    task = seqio.get_mixture_or_task(task_name)
    count = _count(task, split)
    sequence_length = dict(lengths) if lengths else None
    dataset = task.get_dataset(sequence_length=sequence_length, split=split, shuffle=False)
    inputs, targets = [], []
    for example in dataset.take(sample).as_numpy_iterator():
        inputs.append(len(example.get("inputs", ())))
        targets.append(len(example["targets"]))
    _CACHE[key] = TaskStats(task_name, count, len(inputs), tuple(inputs), tuple(targets))
    return _CACHE[key]


def _count(task, split: str) -> int:
    count = task.num_input_examples(split)
    if count is None:
        raise ValueError(
            f"task {task.name!r} does not know its number of {split} examples; pass "
            "num_examples when registering it"
        )
    return int(count)


def _group_key(task, split: str):
    """Tasks with equal keys preprocess alike and can be measured in one pipeline."""
    from flawn.tasks.sources import LocalFileSource

    source = task.source
    if not isinstance(source, LocalFileSource) or split not in source.splits:
        return None
    if _GROUP_INDEX_FIELD not in source.signature:
        return None
    steps = []
    for step in task.preprocessors:
        if isinstance(step, functools.partial) and set(step.keywords) == {"task_name"}:
            step = step.func  # add_source_task: only the constant name differs
        steps.append(_ADDRESS.sub("", repr(step)))
    features = {k: repr(v.vocabulary) for k, v in task.output_features.items()}
    return (type(source), tuple(sorted(source.signature)), tuple(steps), repr(features))


def tasks_stats(
    names: Sequence[str],
    split: str = "train",
    sample: int = DEFAULT_SAMPLE,
    lengths: tuple[tuple[str, int], ...] | None = None,
) -> dict[str, TaskStats]:
    """:func:`task_stats` of many tasks, measuring alike tasks in one pipeline.

    Building a seqio pipeline costs about a second per task (tracing its
    preprocessors), which made plans of the 148 LawInstruct subsets take
    minutes. Tasks read by flawn's file sources that share their
    preprocessing are measured together: their first ``sample`` records are
    read in Python, tagged with their task, preprocessed by one pipeline, and
    split again. The result equals measuring each task alone.
    """
    import seqio  # deferred: pulls in TensorFlow

    out: dict[str, TaskStats] = {}
    groups: dict[object, list] = {}
    for name in names:
        if (name, split, sample, lengths) in _CACHE:
            out[name] = _CACHE[(name, split, sample, lengths)]
            continue
        task = seqio.get_mixture_or_task(name)
        key = _group_key(task, split)
        if key is None:
            out[name] = task_stats(name, split, sample, lengths)
        else:
            groups.setdefault(key, []).append(task)
    for tasks in groups.values():
        measured = _measure_group(tasks, split, sample, lengths) if len(tasks) > 1 else None
        if measured is None:  # one task, or preprocessing that drops the tag
            measured = {t.name: task_stats(t.name, split, sample, lengths) for t in tasks}
        out.update(measured)
    return out


def _measure_group(tasks, split, sample, lengths) -> dict[str, TaskStats] | None:
    import tensorflow as tf

    from flawn.tasks.sources import records_dataset

    counts = [_count(t, split) for t in tasks]
    source = tasks[0].source
    signature = source.signature

    def records():
        for index, task in enumerate(tasks):
            taken = 0
            for path in task.source.list_shards(split):
                for record in task.source.records(path):
                    if taken == sample:
                        break
                    yield {**record, _GROUP_INDEX_FIELD: str(index)}
                    taken += 1
                if taken == sample:
                    break

    dataset = records_dataset(records, signature)
    representative = tasks[0]
    dataset = representative.preprocess_precache(dataset)
    dataset = representative.preprocess_postcache(dataset, dict(lengths) if lengths else None)
    if _GROUP_INDEX_FIELD not in dataset.element_spec:
        return None  # the preprocessing drops the tag: measure one task at a time
    # Lengths only, in batches: one iterator call per example costs ~15 ms on its own.
    dataset = dataset.map(
        lambda ex: {
            "index": tf.strings.to_number(ex[_GROUP_INDEX_FIELD], tf.int32),
            "inputs": tf.size(ex["inputs"]) if "inputs" in ex else tf.constant(0),
            "targets": tf.size(ex["targets"]),
        }
    ).batch(1024)
    inputs: list[list[int]] = [[] for _ in tasks]
    targets: list[list[int]] = [[] for _ in tasks]
    for batch in dataset.as_numpy_iterator():
        for index, n_in, n_tg in zip(
            batch["index"], batch["inputs"], batch["targets"], strict=True
        ):
            inputs[index].append(int(n_in))
            targets[index].append(int(n_tg))
    out = {}
    for index, task in enumerate(tasks):
        stats = TaskStats(
            task.name,
            counts[index],
            len(inputs[index]),
            tuple(inputs[index]),
            tuple(targets[index]),
        )
        _CACHE[(task.name, split, sample, lengths)] = stats
        out[task.name] = stats
    return out
