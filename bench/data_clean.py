"""Throughput and peak memory of the data-quality filters on a synthetic corpus.

Generates N examples deterministically (default 1,000,000), streamed so the
corpus itself costs no memory, with planted duplicates: every 20th example is
an exact copy (after normalisation: upper-cased) of an earlier one, every
20th (offset 2) a near copy (two adjacent words changed, Jaccard ~0.85), and
every 100th (offset 3) carries 30 words of a benchmark item. Words are drawn
from the benchmark items' own vocabulary (as most English words of real
training data are), so the decontamination check hashes every window, as it
would on real text. Each component runs in its own process, so its peak
resident memory is its own:

  * dedup: exact (normalised hash) then near (MinHash LSH, 128 permutations,
    5-word shingles, threshold 0.8), tokenisation included;
  * decontamination: building the n-gram index of LegalBench + LawBench
    (../shared/data when present, else synthetic items), then the 13-gram
    check, tokenisation included;
  * language: fastText lid.176 identification of multilingual sentences.

Usage:
  python bench/data_clean.py [--n 1000000] [--components dedup,decontamination,language]
                             [--language-n 200000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time

BATCH = 4096
LANGUAGE_SENTENCES = {
    "en": "The tenant shall pay the rent on the first day of each month to the landlord",
    "de": "Der Mieter hat die Miete am ersten Tag eines jeden Monats an den Vermieter zu zahlen",
    "fr": "Le locataire doit payer le loyer le premier jour de chaque mois au bailleur",
    "it": "Il conduttore deve pagare il canone il primo giorno di ogni mese al locatore",
    "es": "El arrendatario deberá pagar la renta el primer día de cada mes al arrendador",
    "zh": "承租人应当在每月第一日按照本合同载明的地址向出租人支付租金",
}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _benchmark_items():
    from flawn.quality.benchmarks import BenchmarkItem, load_items

    try:
        return load_items(("legalbench", "lawbench"))[1], "LegalBench + LawBench (shared data)"
    except Exception:  # no shared data: synthetic items of the same shape
        rng = random.Random(7)
        words = [f"term{i}" for i in range(20000)]
        items = [
            BenchmarkItem(
                "legalbench", f"task{i % 160}", str(i), (" ".join(rng.choices(words, k=60)),)
            )
            for i in range(10000)
        ]
        return items, "10,000 synthetic items"


class Corpus:
    """Deterministic examples with planted exact, near and benchmark duplicates."""

    def __init__(self, vocabulary: list[str], planted: list[list[str]], seed: int = 0):
        self.vocabulary = vocabulary
        self.planted = planted
        self.seed = seed

    def _base(self, index: int) -> list[str]:
        rng = random.Random(self.seed * 1_000_003 + index)
        return rng.choices(self.vocabulary, k=rng.randint(40, 160))

    def text(self, index: int) -> str:
        rng = random.Random(self.seed * 7_919 + index)
        if index % 20 == 1 and index > 1000:
            return " ".join(self._base(index - rng.randint(1, 1000))).upper()
        if index % 20 == 2 and index > 1000:
            words = self._base(index - rng.randint(1, 1000))
            position = rng.randrange(len(words) - 1)
            words[position : position + 2] = ["changed", "words"]
            return " ".join(words)
        words = self._base(index)
        if index % 100 == 3 and self.planted:
            gram = self.planted[rng.randrange(len(self.planted))]
            words[10:10] = gram
        return " ".join(words)

    def batches(self, count: int):
        from flawn.quality.example import Example

        for start in range(0, count, BATCH):
            yield [
                Example(0, None, self.text(i), "answer")
                for i in range(start, min(count, start + BATCH))
            ]


def _corpus() -> tuple[Corpus, list, str]:
    from flawn.quality.text import tokenize

    items, described = _benchmark_items()
    rng = random.Random(3)
    words: dict[str, None] = {}
    planted = []
    for item in items:
        for text in item.texts:
            tokens = tokenize(text)
            words.update(dict.fromkeys(t for t in tokens if t.isascii()))
            if len(tokens) >= 40 and text.isascii() and rng.random() < 0.05:
                # 30 words: 18 13-grams, more than the 10 an overlap needs (min_shared).
                start = rng.randrange(len(tokens) - 30)
                planted.append(tokens[start : start + 30])
    return Corpus(sorted(words)[:50000], planted), items, described


def run_dedup(n: int) -> dict:
    from flawn.quality.config import DedupConfig
    from flawn.quality.counts import SourceCounts, apply_stage
    from flawn.quality.dedup import ExactDeduplicator, NearDeduplicator

    corpus, _, _ = _corpus()
    exact, near = ExactDeduplicator(), NearDeduplicator(DedupConfig())
    counts = [SourceCounts("synthetic")]
    setup_rss = _rss_mib()
    seconds = 0.0
    for batch in corpus.batches(n):
        started = time.perf_counter()
        kept = apply_stage("exact_dedup", batch, exact, counts)
        apply_stage("near_dedup", kept, near, counts)
        seconds += time.perf_counter() - started
    stages = counts[0].stages
    return {
        "component": "dedup (exact + near)",
        "examples": n,
        "seconds": seconds,
        "examples_per_s": n / seconds,
        "removed": {
            "exact": stages["exact_dedup"].removed_total,
            "near": stages["near_dedup"].removed_total,
        },
        "lsh_bands": near.bands,
        "setup_rss_mib": setup_rss,
        "peak_rss_mib": _rss_mib(),
    }


def run_decontamination(n: int) -> dict:
    from flawn.quality.config import DecontaminationConfig
    from flawn.quality.contamination import Decontaminator

    corpus, items, described = _corpus()
    setup_rss = _rss_mib()
    started = time.perf_counter()
    decontaminator = Decontaminator(
        DecontaminationConfig(benchmarks=("legalbench", "lawbench")),
        tasks=[],
        items=items,
        progress=False,
    )
    index_seconds = time.perf_counter() - started
    seconds, flagged = 0.0, 0
    for batch in corpus.batches(n):
        started = time.perf_counter()
        decontaminator.scan(batch)
        seconds += time.perf_counter() - started
        flagged += sum(1 for example in batch if example.overlaps)
    return {
        "component": "decontamination (13-gram)",
        "examples": n,
        "seconds": seconds,
        "examples_per_s": n / seconds,
        "flagged": flagged,
        "benchmark": described,
        "benchmark_items": len(items),
        "indexed_ngrams": decontaminator.index.size,
        "index_seconds": index_seconds,
        "setup_rss_mib": setup_rss,
        "peak_rss_mib": _rss_mib(),
    }


def run_language(n: int) -> dict:
    from flawn.quality.config import LanguageConfig
    from flawn.quality.example import Example
    from flawn.quality.language import LanguageFilter

    language_filter = LanguageFilter(LanguageConfig(languages=("en", "de")))
    codes = sorted(LANGUAGE_SENTENCES)
    setup_rss = _rss_mib()
    seconds, removed = 0.0, 0
    for start in range(0, n, BATCH):
        batch = []
        for i in range(start, min(n, start + BATCH)):
            rng = random.Random(i)
            code = codes[i % len(codes)]
            sentences = [f"{LANGUAGE_SENTENCES[code]} {rng.randint(1, 999)}."] * rng.randint(1, 4)
            batch.append(Example(0, None, " ".join(sentences), ""))
        started = time.perf_counter()
        removed += sum(1 for example in batch if language_filter(example))
        seconds += time.perf_counter() - started
    return {
        "component": "language (fastText lid.176)",
        "examples": n,
        "seconds": seconds,
        "examples_per_s": n / seconds,
        "removed": removed,
        "setup_rss_mib": setup_rss,
        "peak_rss_mib": _rss_mib(),
    }


RUNNERS = {"dedup": run_dedup, "decontamination": run_decontamination, "language": run_language}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="examples (default 1,000,000)")
    parser.add_argument(
        "--language-n", type=int, default=None, help="examples for the language filter (default n)"
    )
    parser.add_argument("--components", default="dedup,decontamination,language")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one component in this process, result as JSON on stdout
        print(json.dumps(RUNNERS[args.child](args.n)))
        return
    results = []
    for component in args.components.split(","):
        n = args.language_n if component == "language" and args.language_n else args.n
        out = subprocess.run(
            [sys.executable, __file__, "--child", component, "--n", str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"{result['component']:<30} {result['examples']:>9,} examples  "
            f"{result['examples_per_s']:>9,.0f} ex/s  peak RSS {result['peak_rss_mib']:,.0f} MiB "
            f"(after setup {result['setup_rss_mib']:,.0f} MiB)",
            flush=True,
        )
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps({"machine": machine, "results": results}, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": machine, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
