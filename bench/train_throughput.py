"""Training throughput of the local backend on this host.

Measures, for one model size and mixture:
  * the input pipeline alone (packed batches/s from seqio),
  * the jitted train step alone on a fixed batch (compile excluded),
  * the end-to-end loop (pipeline + step), as `flawn train` runs it.

Usage:
  python bench/train_throughput.py [--size tiny] [--mixture demo.general_plus_legal]
      [--batch-size 32] [--inputs 144] [--targets 16] [--steps 50] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="tiny", help="gin/models/<size>.gin")
    parser.add_argument("--mixture", default="demo.general_plus_legal")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--inputs", type=int, default=144)
    parser.add_argument("--targets", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    from flawn.runtime import import_heavy_stack

    import_heavy_stack()
    import jax
    import jax.numpy as jnp

    from flawn.models.sizes import get_size
    from flawn.train.config import OptimizerConfig
    from flawn.train.data import train_batches
    from flawn.train.local import build_model, init_params, task_vocabulary
    from flawn.train.optim import make_optimizer
    from flawn.train.step import make_train_step

    lengths = {"inputs": args.inputs, "targets": args.targets}
    model_config = get_size(args.size).t5_config()

    batches = train_batches(args.mixture, lengths, args.batch_size, seed=0)
    batch = next(batches)
    started = time.perf_counter()
    for _ in range(args.steps):
        batch = next(batches)
    data_seconds = (time.perf_counter() - started) / args.steps

    model = build_model(model_config, task_vocabulary(args.mixture))
    params = init_params(model, lengths, 0)["params"]
    optimizer = make_optimizer(OptimizerConfig(), args.steps)
    state = {"params": params, "opt_state": optimizer.init(params), "step": jnp.asarray(0)}
    step = jax.jit(make_train_step(model, optimizer, 1e-4, 0), donate_argnums=0)
    compile_started = time.perf_counter()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    compile_seconds = time.perf_counter() - compile_started
    started = time.perf_counter()
    for _ in range(args.steps):
        state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
    step_seconds = (time.perf_counter() - started) / args.steps

    started = time.perf_counter()
    target_tokens = input_tokens = 0
    for _ in range(args.steps):
        batch = next(batches)
        input_tokens += int((batch["encoder_input_tokens"] > 0).sum())
        state, metrics = step(state, batch)
        target_tokens += int(jax.device_get(metrics["target_tokens"]))
    loop_seconds = (time.perf_counter() - started) / args.steps

    n_params = sum(x.size for x in jax.tree.leaves(params))
    figures = {
        "host": f"{platform.machine()}, {os.cpu_count()} cores, {jax.devices()[0].platform}",
        "size": args.size,
        "params": n_params,
        "batch": f"{args.batch_size} x ({args.inputs} + {args.targets}) packed",
        "pipeline_batches_per_s": round(1 / data_seconds, 1),
        "compile_s": round(compile_seconds, 1),
        "step_ms": round(step_seconds * 1000, 1),
        "loop_steps_per_s": round(1 / loop_seconds, 2),
        "loop_input_tokens_per_s": round(input_tokens / (loop_seconds * args.steps)),
        "loop_target_tokens_per_s": round(target_tokens / (loop_seconds * args.steps)),
    }
    for key, value in figures.items():
        print(f"{key:28s} {value}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
