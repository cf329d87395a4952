"""Evaluation throughput: greedy generation versus rank classification.

Runs both LegalBench scoring modes over the same prompts (the bundled sample
tasks, test split) for each model size, with random-init parameters: the cost
of a forward pass does not depend on the values of the weights. One caveat is
measured, not hidden: greedy decoding stops early once every row of a batch
has produced EOS, which an untrained model rarely does, so generation here
runs to --max-decode-length (the worst case; a trained model's outputs are
shorter). The figure `gen_steps_per_batch` says how many decoding steps ran.

Compilation is timed separately (one warm-up call per compiled shape) and
excluded from examples/s.

Usage:
  python bench/eval_throughput.py [--sizes tiny mini] [--inputs 144]
      [--max-decode-length 16] [--batch-size 64] [--repeats 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Compile times here are real compiles, not loads from flawn's persistent cache.
os.environ.setdefault("FLAWN_COMPILATION_CACHE", "off")


def _time(fn, repeats: int) -> float:
    """Seconds per call of ``fn`` (best of ``repeats``)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["tiny", "mini"], help="see flawn model list")
    parser.add_argument("--inputs", type=int, default=144, help="encoder length")
    parser.add_argument("--max-decode-length", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="timed passes; the best counts")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    from flawn.runtime import quiet_native_stderr

    with quiet_native_stderr():
        import jax
        import numpy as np

        from flawn import paths
        from flawn.evals import rank_classification as rc
        from flawn.evals.generation import generate_ids
        from flawn.evals.legalbench.tasks import load_suite
        from flawn.models.decoding import greedy_decode
        from flawn.models.sizes import get_size
        from flawn.models.t5 import Transformer
        from flawn.vocab import load_vocabulary

    vocabulary = load_vocabulary(str(paths.SAMPLE_VOCAB))
    tasks = load_suite(paths.SAMPLE_DATA_DIR / "legalbench")
    started = time.perf_counter()
    prompts = {
        task.name: [task.fit(e, vocabulary.encode, args.inputs).ids for e in task.examples]
        for task in tasks
    }
    fit_seconds = time.perf_counter() - started
    n_examples = sum(len(p) for p in prompts.values())
    labels = {task.name: task.label_set() for task in tasks}
    label_tokens = {name: rc.encode_labels(vocabulary, labels[name]) for name in labels}

    results = []
    for size in args.sizes:
        config = get_size(size).t5_config().with_vocab_size(vocabulary.vocab_size)
        model = Transformer(config)
        params = model.init(
            jax.random.PRNGKey(0),
            np.ones((1, args.inputs), np.int32),
            np.ones((1, args.max_decode_length), np.int32),
        )
        n_params = sum(x.size for x in jax.tree.leaves(params))
        scorer = rc.model_scorer(model, params)

        # Compile: one decoding shape, and one scoring shape per task (label count x length).
        started = time.perf_counter()
        first = np.zeros((args.batch_size, args.inputs), np.int32)
        jax.block_until_ready(greedy_decode(model, params, first, args.max_decode_length))
        gen_compile = time.perf_counter() - started
        started = time.perf_counter()
        for name in prompts:
            scorer(first, label_tokens[name])
        rank_compile = time.perf_counter() - started

        def run_generation(model=model, params=params):
            for ids in prompts.values():
                generate_ids(
                    model,
                    params,
                    vocabulary,
                    ids,
                    args.inputs,
                    args.max_decode_length,
                    args.batch_size,
                )

        def run_ranking(scorer=scorer):
            for name, ids in prompts.items():
                rc.rank_classify(
                    ids, labels[name], label_tokens[name], scorer, args.inputs, args.batch_size
                )

        gen_seconds = _time(run_generation, args.repeats)
        rank_seconds = _time(run_ranking, args.repeats)
        decoded = np.asarray(greedy_decode(model, params, first, args.max_decode_length))
        steps = int(((decoded > 0).any(axis=0)).sum())
        results.append(
            {
                "size": size,
                "params": int(n_params),
                "examples": n_examples,
                "labels_per_task": {name: len(v) for name, v in labels.items()},
                "gen_compile_s": round(gen_compile, 2),
                "rank_compile_s": round(rank_compile, 2),
                "gen_steps_per_batch": steps,
                "generation_examples_per_s": round(n_examples / gen_seconds, 1),
                "rank_classification_examples_per_s": round(n_examples / rank_seconds, 1),
                "speedup_rank_vs_generation": round(gen_seconds / rank_seconds, 2),
            }
        )

    host = f"{platform.machine()}, {os.cpu_count()} cores, {jax.devices()[0].platform}"
    figures = {
        "host": host,
        "suite": "sample legalbench (5 tasks, test split)",
        "inputs": args.inputs,
        "max_decode_length": args.max_decode_length,
        "batch_size": args.batch_size,
        "prompt_fitting_examples_per_s": round(n_examples / fit_seconds, 1),
        "results": results,
    }
    print(f"host {host}; {n_examples} examples; batch {args.batch_size}; inputs {args.inputs}")
    print(f"prompt fitting (tokenize + truncation policy): {n_examples / fit_seconds:.0f} ex/s")
    header = (
        f"{'size':6s} {'params':>9s} {'generation ex/s':>16s} {'rank ex/s':>10s} "
        f"{'rank/gen':>8s} {'compile gen/rank s':>19s}"
    )
    print(header)
    for r in results:
        print(
            f"{r['size']:6s} {r['params']:9d} {r['generation_examples_per_s']:16.1f} "
            f"{r['rank_classification_examples_per_s']:10.1f} "
            f"{r['speedup_rank_vs_generation']:8.2f} "
            f"{r['gen_compile_s']:>9.1f}/{r['rank_compile_s']:<9.1f}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
