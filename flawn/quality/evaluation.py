"""How well decontamination separates copied benchmark items from clean legal text.

Planted sets hold training-style examples carrying a benchmark item (whole,
or a contiguous part of its longest text inside other text); clean sets hold
legal text that copies no item but shares the benchmarks' stock phrases.
:func:`measure` runs a :class:`~flawn.quality.contamination.Decontaminator`
over both and reports recall (planted examples flagged for the item planted
in them), the false-positive rate (clean examples flagged at all) and the
precision of the flags over planted and clean examples together.

Sets (``bench/decontamination.py`` prints the table docs/quality.md shows):

* Chinese planted: LawBench questions and answers in a LaWGPT-style prompt
  (:func:`planted_lawbench`);
* Chinese clean: LaWGPT's example files (:func:`lawgpt_examples`), and, held
  out from tuning, model answers to LawBench's legal consultation questions
  (:func:`prediction_examples`), which quote the same statutes as the gold
  answers without copying them;
* English planted: LegalBench rows in an instruction (:func:`planted_legalbench`);
* English clean: flawn's bundled sample data (contract clauses, contracts;
  :func:`sample_examples`), and, held out, the rows of LegalBench task
  families left out of the index (:func:`family_split`).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import lzma
import os
import pathlib
import random

from flawn.quality.benchmarks import BenchmarkItem, BenchmarkTask
from flawn.quality.example import Example
from flawn.quality.units import units


@dataclasses.dataclass(frozen=True)
class Probe:
    """One example of a planted or clean set.

    Attributes:
        prompt: The example's prompt.
        answer: Its answer.
        item: ``(benchmark, task, item id)`` of the planted item; ``None`` for a clean example.
        kind: What was planted (``whole``, ``part``) or where a clean example comes from.
        task: For a clean model answer, the benchmark task it answers (its own
            question may be quoted; hits on that task are not counted).
    """

    prompt: str
    answer: str
    item: tuple[str, str, str] | None
    kind: str
    task: str | None = None


_ZH_TEMPLATE = (
    "你是一名法律顾问，请依据中国法律回答下面这个问题。\n### 问题:\n{question}\n### 回答:\n"
)
_ZH_FILLER = "这是我在网上看到的一段材料，请帮我看看："
_EN_FILLER = "Read the following passage from our files and answer the question that follows it: "


#: A planted part has at least this many units (words; jieba words of Chinese): a large
#: part of a long item. Halves of short items are too short for any n-gram rule to see.
MIN_PART_UNITS = 30


def _part(text: str, fraction: float, rng: random.Random) -> str | None:
    """A contiguous ``fraction`` of ``text`` (characters) at a random offset, if long enough."""
    size = max(1, int(len(text) * fraction))
    start = rng.randrange(0, len(text) - size + 1)
    part = text[start : start + size]
    return part if len(units(part)) >= MIN_PART_UNITS else None


def planted_lawbench(
    data_dir: str | os.PathLike,
    per_task: int,
    seed: int,
    fraction: float = 0.5,
    parity: int | None = None,
) -> list[Probe]:
    """LawBench items planted into training examples.

    For each of ``per_task`` random items of every task: the question and the
    gold answer as a LaWGPT-style instruction example (``whole``), and a
    contiguous ``fraction`` of the question after other text (``part``; only
    when that part has at least :data:`MIN_PART_UNITS` words).

    Args:
        data_dir: LawBench's ``data`` folder.
        per_task: Items drawn per task.
        seed: Seed of the draw.
        fraction: Share of the question planted in ``part`` examples.
        parity: Draw only items whose position has this parity (0 or 1), so
            that a tuning and a held-out draw never share an item.
    """
    rng = random.Random(seed)
    probes = []
    for path in sorted(pathlib.Path(data_dir, "zero_shot").glob("*.json")):
        rows = json.loads(path.read_text(encoding="utf-8"))
        positions = [i for i in range(len(rows)) if parity is None or i % 2 == parity]
        for index in sorted(rng.sample(positions, min(per_task, len(positions)))):
            row = rows[index]
            key = ("lawbench", path.stem, str(index))
            prompt = _ZH_TEMPLATE.format(question=row["question"])
            probes.append(Probe(prompt, row["answer"], key, "whole"))
            part = _part(row["question"], fraction, rng)
            if part is not None:
                probes.append(Probe(_ZH_FILLER + part, "", key, "part"))
    return probes


def planted_legalbench(
    tasks: list[BenchmarkTask],
    items: list[BenchmarkItem],
    per_task: int,
    seed: int,
    fraction: float = 0.5,
    parity: int | None = None,
) -> list[Probe]:
    """LegalBench rows planted into training examples (as :func:`planted_lawbench`).

    ``whole``: every text of the item (its template slots) as the prompt and
    its answer; ``part``: a contiguous ``fraction`` of its longest text.
    """
    rng = random.Random(seed)
    by_task: dict[str, list[BenchmarkItem]] = collections.defaultdict(list)
    for item in items:
        if item.benchmark == "legalbench":
            by_task[item.task].append(item)
    probes = []
    for task in sorted(t.task for t in tasks if t.benchmark == "legalbench"):
        candidates = [
            item
            for position, item in enumerate(by_task[task])
            if parity is None or position % 2 == parity
        ]
        for item in rng.sample(candidates, min(per_task, len(candidates))):
            key = (item.benchmark, item.task, item.item)
            *fields, answer = item.texts if len(item.texts) > 1 else (*item.texts, "")
            probes.append(Probe(_EN_FILLER + "\n\n".join(fields), answer, key, "whole"))
            part = _part(max(item.texts, key=len), fraction, rng)
            if part is not None:
                probes.append(Probe(_EN_FILLER + part, "", key, "part"))
    return probes


def lawgpt_examples(resources: str | os.PathLike) -> list[Probe]:
    """LaWGPT's example files (clean: none copies a LawBench item).

    ``example_instruction_tune.json`` (two legal questions with answers that
    quote the Criminal Law) and ``example_instruction_train.json`` (two
    Supreme People's Court decisions, pretraining text) are the four with
    content; ``example_infer_data.json``'s questions have no answers.
    """
    from flawn.sources.alpaca import read_alpaca
    from flawn.sources.rawtext import read_text

    resources = pathlib.Path(resources)
    probes = [
        Probe(f"{r.instruction}\n{r.input}".strip(), r.output, None, "lawgpt_tune")
        for r in read_alpaca(resources / "example_instruction_tune.json", "error")
    ]
    probes += [
        Probe(r.text, "", None, "lawgpt_pretrain")
        for r in read_text(resources / "example_instruction_train.json", "content", "error")
    ]
    probes += [
        Probe(f"{r.instruction}\n{r.input}".strip(), r.output, None, "lawgpt_infer")
        for r in read_alpaca(resources / "example_infer_data.json", "error")
    ]
    return probes


def prediction_examples(predictions_dir: str | os.PathLike, task: str) -> list[Probe]:
    """Model answers to one LawBench task (LawBench's published predictions).

    Each answer is a clean example for every *other* task: it was written by
    a model, not copied from an item, but quotes statutes like the gold
    answers do. Answers that are empty or only repeat themselves (fewer than
    a fifth distinct characters) are left out.
    """
    probes = []
    for path in sorted(pathlib.Path(predictions_dir).glob(f"*/{task}.json")):
        rows = json.loads(path.read_text(encoding="utf-8"))
        for row in rows.values():
            text = row.get("prediction") or ""
            if len(text) < 20 or len(set(text)) < len(text) / 5:
                continue
            probes.append(Probe("", text, None, f"predictions:{path.parent.name}", task))
    return probes


def sample_examples(sample_dir: str | os.PathLike) -> list[Probe]:
    """The bundled English sample data: LawInstruct-format clause tasks and contracts.

    Synthetic legal text written from stock clauses (governing law,
    indemnity, notices), the kind LegalBench's contract tasks also contain.
    """
    sample_dir = pathlib.Path(sample_dir)
    probes = []
    for path in sorted((sample_dir / "lawinstruct").glob("*.jsonl.xz")):
        with lzma.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("prompt_language", "en") != "en":
                    continue
                prompt = f"{row['instruction']}\n{row['prompt']}"
                probes.append(Probe(prompt, row["answer"], None, "sample_lawinstruct"))
    for path in sorted((sample_dir / "multilegalpile").glob("en_*.jsonl.xz")):
        with lzma.open(path, "rt", encoding="utf-8") as f:
            probes += [Probe(json.loads(line)["text"], "", None, "sample_contracts") for line in f]
    return probes


def family(task: str) -> str:
    """A LegalBench task's family: tasks built from the same documents share a prefix."""
    for prefix in ("cuad_", "maud_", "contract_nli_", "learned_hands_", "opp115_", "supply_chain_"):
        if task.startswith(prefix):
            return prefix.rstrip("_")
    return task


def family_split(
    tasks: list[BenchmarkTask],
    items: list[BenchmarkItem],
    held_out: tuple[str, ...],
) -> tuple[list[BenchmarkTask], list[BenchmarkItem], list[Probe]]:
    """LegalBench without the ``held_out`` families, and those families' rows as clean examples.

    Returns:
        The tasks and items to index, and one clean example per held-out row.
    """
    keep_tasks = [t for t in tasks if t.benchmark != "legalbench" or family(t.task) not in held_out]
    keep = {(t.benchmark, t.task) for t in keep_tasks}
    clean = [
        Probe("\n".join(item.texts[:-1]) or item.texts[0], item.texts[-1], None, item.task)
        for item in items
        if (item.benchmark, item.task) not in keep
    ]
    return keep_tasks, [i for i in items if (i.benchmark, i.task) in keep], clean


@dataclasses.dataclass
class Measurement:
    """Flags on one planted and one clean set.

    Attributes:
        planted: Planted examples, per kind.
        caught: Planted examples flagged for their own item, per kind.
        clean: Clean examples.
        false_positives: Clean examples flagged.
        flagged_clean: The flagged clean examples with the tasks they were flagged for.
    """

    planted: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    caught: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    clean: int = 0
    false_positives: int = 0
    flagged_clean: list[tuple[Probe, list[str]]] = dataclasses.field(default_factory=list)

    @property
    def recall(self) -> float:
        """Planted examples caught, over all kinds."""
        total = sum(self.planted.values())
        return sum(self.caught.values()) / total if total else float("nan")

    @property
    def false_positive_rate(self) -> float:
        """Clean examples flagged."""
        return self.false_positives / self.clean if self.clean else float("nan")

    @property
    def precision(self) -> float:
        """Flags that are right, over planted and clean examples together."""
        caught = sum(self.caught.values())
        flags = caught + self.false_positives
        return caught / flags if flags else float("nan")

    def as_dict(self) -> dict:
        """A JSON-friendly summary."""
        return {
            "planted": dict(self.planted),
            "caught": dict(self.caught),
            "recall": self.recall,
            "clean": self.clean,
            "false_positives": self.false_positives,
            "false_positive_rate": self.false_positive_rate,
            "precision": self.precision,
        }


def measure(decontaminator, planted: list[Probe], clean: list[Probe]) -> Measurement:
    """Runs ``decontaminator`` over both sets (see the module docstring)."""
    items = decontaminator.items
    result = Measurement()
    examples = [Example(0, None, p.prompt, p.answer) for p in planted + clean]
    for start in range(0, len(examples), 1024):
        decontaminator.scan(examples[start : start + 1024])
    for probe, example in zip(planted, examples, strict=False):
        result.planted[probe.kind] += 1
        keys = {(items[i].benchmark, items[i].task, items[i].item) for i in example.overlaps}
        result.caught[probe.kind] += probe.item in keys
    for probe, example in zip(clean, examples[len(planted) :], strict=True):
        result.clean += 1
        tasks = sorted({items[i].task for i in example.overlaps} - {probe.task})
        if tasks:
            result.false_positives += 1
            result.flagged_clean.append((probe, tasks))
    return result
