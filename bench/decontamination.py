"""Recall and precision of benchmark decontamination, English and Chinese.

Builds the n-gram index of LegalBench + LawBench from ../shared/data with
the default settings of ``flawn data clean`` (or the ones given) and runs
the planted and clean sets of :mod:`flawn.quality.evaluation` through it:

  * tuning sets (what the defaults were chosen on): items at even positions
    planted (seed 0); LaWGPT's example files and flawn's English sample data
    as clean text;
  * held-out sets (not looked at while choosing): items at odd positions
    planted (seed 1); LawBench's published model answers to its legal
    consultation task 3-8 (hits on 3-8 itself not counted) and the rows of
    LegalBench task families left out of the index (learned_hands, maud,
    opp115) as clean text.

Recall: planted examples flagged for the item planted in them; FP rate:
clean examples flagged; precision: right flags among all flags of the two
sets together (it depends on how many examples of each kind there are).

Usage:
  python bench/decontamination.py [--per-task-zh 15] [--per-task-en 3]
      [--min-shared N] [--min-coverage F] [--stop-texts K] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time

HELD_OUT_FAMILIES = ("learned_hands", "maud", "opp115")


def _row(language: str, split: str, measurement) -> list:
    m = measurement
    parts = ", ".join(f"{m.caught[k]}/{m.planted[k]} {k}" for k in sorted(m.planted))
    return [
        language,
        split,
        f"{sum(m.caught.values())}/{sum(m.planted.values())} ({parts})",
        f"{m.false_positives}/{m.clean}",
        f"{m.precision:.3f}",
    ]


def main() -> None:
    from flawn import paths
    from flawn.quality import evaluation as ev
    from flawn.quality.benchmarks import load_items
    from flawn.quality.config import DecontaminationConfig
    from flawn.quality.contamination import Decontaminator

    defaults = DecontaminationConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-task-zh", type=int, default=15, help="LawBench items per task")
    parser.add_argument("--per-task-en", type=int, default=3, help="LegalBench items per task")
    parser.add_argument("--min-shared", type=int, default=defaults.min_shared)
    parser.add_argument("--min-coverage", type=float, default=defaults.min_coverage)
    parser.add_argument("--stop-texts", type=int, default=defaults.stop_texts, help="0: none")
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args()

    shared = paths.shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data is not present (set FLAWN_SHARED_DATA)")
    config = DecontaminationConfig(
        benchmarks=("legalbench", "lawbench"),
        min_shared=args.min_shared,
        min_coverage=args.min_coverage,
        stop_texts=args.stop_texts or None,
    )
    started = time.time()
    tasks, items = load_items(config.benchmarks)
    decontaminator = Decontaminator(config, tasks, items, progress=False)
    print(f"indexed {len(items):,} items in {time.time() - started:.1f} s", flush=True)

    lawbench = shared / "lawbench" / "data"
    sample = paths.project_root() / "flawn" / "sample_data"
    results = {}
    for split, seed, parity in (("tuning", 0, 0), ("held-out", 1, 1)):
        zh = ev.planted_lawbench(lawbench, args.per_task_zh, seed, parity=parity)
        en = ev.planted_legalbench(tasks, items, args.per_task_en, seed, parity=parity)
        if split == "tuning":
            zh_clean = ev.lawgpt_examples(shared / "lawgpt" / "resources")
            en_clean = ev.sample_examples(sample)
            results[("Chinese", split)] = ev.measure(decontaminator, zh, zh_clean)
            results[("English", split)] = ev.measure(decontaminator, en, en_clean)
        else:
            zh_clean = ev.prediction_examples(
                shared / "lawbench" / "predictions" / "zero_shot", "3-8"
            )
            results[("Chinese", split)] = ev.measure(decontaminator, zh, zh_clean)
            kept_tasks, kept_items, en_clean = ev.family_split(tasks, items, HELD_OUT_FAMILIES)
            held_out = Decontaminator(config, kept_tasks, kept_items, progress=False)
            kept = {(i.benchmark, i.task, i.item) for i in kept_items}
            results[("English", split)] = ev.measure(
                held_out, [p for p in en if p.item in kept], en_clean
            )

    header = ["language", "set", "planted caught", "clean flagged", "precision"]
    rows = [_row(lang, split, m) for (lang, split), m in sorted(results.items())]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for (lang, split), m in sorted(results.items()):
        for probe, flagged in m.flagged_clean:
            text = (probe.prompt + " " + probe.answer).strip().replace("\n", " ")
            print(f"  {lang} {split} clean flagged ({probe.kind}) for {flagged}: {text[:100]}")
    print(
        f"settings: min_shared={config.min_shared} min_coverage={config.min_coverage} "
        f"stop_texts={config.stop_texts} ngram={config.ngram}; {time.time() - started:.0f} s"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {f"{lang}/{split}": m.as_dict() for (lang, split), m in results.items()},
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
