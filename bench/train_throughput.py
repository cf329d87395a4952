"""Training-step throughput on this host: flawn against Hugging Face T5, same workload.

The anchor workload: a T5 1.1-shaped encoder-decoder (vocabulary 512, d_model
256, 4 heads x 64, d_ff 1024 gated-GELU, 4 + 4 layers, untied output layer:
9,705,216 parameters), batch 8 x (256 inputs + 64 targets), every position a
real token, no dropout, Adafactor with T5X's defaults (constant learning rate
1e-3). One step is 81.3 GFLOP of matrix products, counted exactly by
``flawn.models.flops.train_step_flops`` (XLA's cost analysis of the compiled
step, which also counts the element-wise work and the optimizer, is printed
beside it).

Measured, alternately in one process so that both see the same machine:

* flawn's jitted train step (``flawn.train.step.make_train_step``), float32
  and bfloat16 (float32 parameters, bfloat16 activations and products
  accumulating in float32);
* Hugging Face ``T5ForConditionalGeneration`` (PyTorch on CPU), built from a
  ``T5Config`` in code (no weights are downloaded), with ``transformers``'
  Adafactor at T5X's settings, eager and under ``torch.compile`` (the model;
  the optimizer step stays eager), float32 and bfloat16 autocast.

Each configuration runs ``--steps`` timed steps per round after warm-up; the
figure is the median over ``--rounds`` rounds of each round's median step.
MFU is the step's counted FLOPs per second over a matrix-multiply peak
measured here, per dtype (the best of JAX and PyTorch on a few shapes).
Peak memory is the rise of the process's resident set (high-water mark, reset
before each configuration's steps) while its steps run: activations,
gradients and temporaries; for flawn XLA's planned footprint of the step
(arguments, outputs and temporaries) is printed too.

Without ``torch`` and ``transformers`` (``pip install -e '.[bench]'``) only
flawn's figures are measured, and the output says that Hugging Face was skipped.

``--model SIZE`` times a size from the size table instead (its shape, the
T5 vocabulary of 32,128 for the T5 1.1 and Flan-T5 sizes), at
``--batch-size``/``--inputs``/``--targets``. On a GPU or TPU, MFU is against the
chip's data-sheet dense bf16 peak (``flawn.train.mfu.peak_flops``), the matmul
peak is measured on large shapes, and Hugging Face is skipped (its PyTorch here
is the CPU wheel); for T5 1.1 ``base`` in bfloat16 the issue's goal (MFU >= 45%)
is printed with its verdict.

Usage:
  python bench/train_throughput.py [--rounds 5] [--steps 5] [--dtypes float32,bfloat16]
      [--no-hf] [--no-compile] [--json OUT]
  python bench/train_throughput.py --model base --dtypes bfloat16 --batch-size 64
      --inputs 512 --targets 128 --no-hf      (T5 1.1 base; on a GPU: MFU, data sheet)
  python bench/train_throughput.py --loop [--size tiny] [--mixture demo.general_plus_legal]
      [--batch-size 32] [--inputs 144] [--targets 16] [--steps 50] [--rounds 3] [--cached]
      (the demo's input pipeline, then the train step alone and the end-to-end loop
      alternately, --rounds times; figures are medians over the rounds)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Compile times here are real compiles, not loads from flawn's persistent cache.
os.environ.setdefault("FLAWN_COMPILATION_CACHE", "off")

#: The anchor model: T5 1.1's architecture at a size one CPU step can take.
SHAPE = {
    "emb_dim": 256,
    "num_heads": 4,
    "head_dim": 64,
    "mlp_dim": 1024,
    "num_encoder_layers": 4,
    "num_decoder_layers": 4,
}
VOCAB = 512
BATCH, INPUTS, TARGETS = 8, 256, 64
LEARNING_RATE = 1e-3


@dataclasses.dataclass(frozen=True)
class Workload:
    """What one step computes: the model's shape and vocabulary, the batch and lengths."""

    name: str
    shape: dict
    vocab: int
    batch: int
    inputs: int
    targets: int

    @classmethod
    def from_args(cls, args) -> Workload:
        """The anchor workload, or ``--model SIZE`` at ``--batch-size/--inputs/--targets``."""
        if args.model is None:
            given = [
                f"--{n}"
                for n in ("vocab", "batch_size", "inputs", "targets")
                if getattr(args, n) is not None
            ]
            if given:
                raise SystemExit(
                    f"{', '.join(given).replace('_', '-')} only apply with --model SIZE "
                    "(or --loop); the anchor workload is fixed"
                )
            return cls("anchor", dict(SHAPE), VOCAB, BATCH, INPUTS, TARGETS)
        from flawn.errors import ConfigError
        from flawn.models.sizes import get_size

        try:
            size = get_size(args.model)
        except ConfigError as err:  # names the nearest sizes
            raise SystemExit(f"--model: {err}") from None
        vocab = args.vocab or size.vocab_size or VOCAB
        return cls(
            args.model,
            dict(size.shape),
            vocab,
            args.batch_size or BATCH,
            args.inputs or INPUTS,
            args.targets or TARGETS,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 5; --loop: 3)")
    parser.add_argument(
        "--steps", type=int, help="timed steps per round (default 5); --loop: steps (default 50)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after compiling")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--no-hf", action="store_true", help="flawn only")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--loop", action="store_true", help="the demo's pipeline and loop")
    parser.add_argument(
        "--model",
        metavar="SIZE",
        help="time this size (gin/models/<SIZE>.gin) instead of the anchor workload",
    )
    parser.add_argument(
        "--vocab", type=int, help="--model: vocabulary rows (default: the size's, else 512)"
    )
    parser.add_argument("--size", default="tiny", help="--loop: gin/models/<size>.gin")
    parser.add_argument("--mixture", default="demo.general_plus_legal", help="--loop")
    parser.add_argument(
        "--batch-size", type=int, help="--model: rows (default 8); --loop: (default 32)"
    )
    parser.add_argument(
        "--inputs", type=int, help="--model: input length (default 256); --loop: (144)"
    )
    parser.add_argument(
        "--targets", type=int, help="--model: target length (default 64); --loop: (16)"
    )
    parser.add_argument(
        "--cached",
        action="store_true",
        help="--loop: read the tasks from a seqio cache (flawn data cache) written first",
    )
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 3 if args.loop else 5
    if args.loop:
        for name, default in (("batch_size", 32), ("inputs", 144), ("targets", 16)):
            if getattr(args, name) is None:
                setattr(args, name, default)
    figures = demo_loop(args) if args.loop else anchor(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)


# ---------------------------------------------------------------------------------------
# The anchor workload


def anchor(args) -> dict:
    import jax

    from flawn.models.flops import count_parameters, train_step_flops
    from flawn.models.sizes import get_size

    work = Workload.from_args(args)
    device = jax.devices()[0]
    on_cpu = device.platform == "cpu"
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    counted = train_step_flops(work.shape, work.vocab, work.inputs, work.targets, work.batch).total
    n_params = count_parameters(work.shape, work.vocab).total
    hf_reason = "--no-hf" if args.no_hf else None
    if hf_reason is None and not on_cpu:
        # The [bench] extra's PyTorch is the CPU wheel: a comparison on the accelerator
        # would set flawn's device against the host's cores.
        hf_reason = f"the Hugging Face comparison runs on CPU only (JAX is on {device.platform})"
    if hf_reason is None:
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as err:
            hf_reason = f"{err.name} is not installed (pip install -e '.[bench]')"

    print(f"host: {platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}")
    print(f"device: {device.platform}, {getattr(device, 'device_kind', '?')}")
    print(
        f"workload {work.name}: T5 1.1 shape {work.shape}, vocab {work.vocab}, "
        f"{n_params:,} parameters, batch {work.batch} x ({work.inputs} + {work.targets}), "
        "Adafactor (T5X defaults)"
    )
    print(f"counted FLOPs per step: {counted / 1e9:.1f} G (flawn.models.flops.train_step_flops)")

    peaks = matmul_peaks(with_torch=hf_reason is None, large=not on_cpu)
    for name, value in peaks["measured"].items():
        print(f"matmul peak {name:24s} {value / 1e9:9.0f} GFLOP/s")
    sheet_peak, sheet_source = None, "measured matmul peak of the row's dtype"
    if not on_cpu:
        from flawn.train.mfu import peak_flops

        sheet_peak, sheet_source = peak_flops([device])
        print(
            f"MFU peak: {sheet_source}"
            + (f", {sheet_peak / 1e12:.0f} TFLOP/s" if sheet_peak else "")
        )
        if sheet_peak is None:
            sheet_source = "measured matmul peak of the row's dtype (no data-sheet figure)"

    runners: dict[str, Runner] = {}
    for dtype in dtypes:
        runners[f"flawn {dtype}"] = flawn_runner(work, dtype, args.warmup)
        if hf_reason is None:
            runners[f"hf eager {dtype}"] = hf_runner(work, dtype, False, args.warmup)
            if not args.no_compile:
                runners[f"hf compile {dtype}"] = hf_runner(work, dtype, True, args.warmup)
    if hf_reason is not None:
        print(f"Hugging Face skipped: {hf_reason}")
    for name, runner in runners.items():
        extra = "".join(f", {k} {v}" for k, v in runner.info.items())
        print(f"built {name}: first step (compile) {runner.first_step_s:.1f} s{extra}")

    times: dict[str, list[float]] = {name: [] for name in runners}
    memory: dict[str, list[float]] = {name: [] for name in runners}
    for round_index in range(args.rounds):
        for name, runner in runners.items():
            steps, peak_rise = timed(runner.step, args.steps or 5)
            times[name].append(statistics.median(steps))
            memory[name].append(peak_rise)
        summary = ", ".join(f"{n} {t[-1]:.3f}" for n, t in times.items())
        print(f"round {round_index + 1}/{args.rounds} (s/step): {summary}", flush=True)

    rows = []
    for name, runner in runners.items():
        seconds = statistics.median(times[name])
        peak = sheet_peak or peaks["bfloat16" if "bfloat16" in name else "float32"]
        rows.append(
            {
                "config": name,
                "s_per_step": round(seconds, 3),
                "range_s": [round(min(times[name]), 3), round(max(times[name]), 3)],
                "target_tokens_per_s": round(work.batch * work.targets / seconds),
                "gflops_per_s": round(counted / seconds / 1e9, 1),
                "mfu": round(counted / seconds / peak, 3),
                "peak_rss_rise_mb": round(max(memory[name]) / 2**20),
                **runner.info,
            }
        )
    print()
    print(
        f"{'configuration':22s} {'s/step':>7s} {'(min-max)':>13s} {'tgt tok/s':>9s} "
        f"{'GFLOP/s':>8s} {'MFU':>6s} {'peak RSS rise':>13s}"
    )
    for row in rows:
        low, high = row["range_s"]
        print(
            f"{row['config']:22s} {row['s_per_step']:7.3f} {f'({low:.3f}-{high:.3f})':>13s} "
            f"{row['target_tokens_per_s']:9d} {row['gflops_per_s']:8.1f} {row['mfu']:6.1%} "
            f"{row['peak_rss_rise_mb']:10d} MB"
        )
    print(f"MFU: counted FLOPs / s over the {sheet_source}.")
    device_peak = (device.memory_stats() or {}).get("peak_bytes_in_use") if not on_cpu else None
    if device_peak:
        print(f"device memory, peak in use over all configurations: {device_peak / 2**30:.1f} GiB")
    # The CPU goals are the anchor workload's; the accelerator goal is T5 1.1 base's.
    goals = []
    if work.name == "anchor":
        goals = _goals({row["config"]: row["s_per_step"] for row in rows})
    if not on_cpu and sheet_peak is not None and work.shape == dict(get_size("base").shape):
        goals += _mfu_goal(rows)
    for line in goals:
        print(line)
    return {
        "host": f"{platform.machine()}, {os.cpu_count()} cores",
        "device": f"{device.platform}, {getattr(device, 'device_kind', '?')}",
        "workload": dataclasses.asdict(work),
        "parameters": n_params,
        "counted_gflop_per_step": round(counted / 1e9, 2),
        "matmul_peaks_gflops": {k: round(v / 1e9) for k, v in peaks["measured"].items()},
        "mfu_peak": sheet_source,
        "device_peak_gib": round(device_peak / 2**30, 2) if device_peak else None,
        "hf_skipped": hf_reason,
        "rows": rows,
        "goals": goals,
    }


def _mfu_goal(rows: list[dict]) -> list[str]:
    """The issue's accelerator goal: T5 1.1 base in bf16 at >= 45% MFU."""
    lines = []
    for row in rows:
        if row["config"] == "flawn bfloat16":
            verdict = "met" if row["mfu"] >= 0.45 else "not met"
            lines.append(f"goal T5 1.1 base bfloat16 MFU >= 45%: {row['mfu']:.1%} ({verdict})")
    return lines


def _goals(seconds: dict[str, float]) -> list[str]:
    lines = []
    pairs = [
        ("flawn bfloat16", "hf compile bfloat16", 1.0),
        ("flawn float32", "hf compile float32", 1.1),
    ]
    for ours, theirs, factor in pairs:
        if ours in seconds and theirs in seconds:
            speedup = seconds[theirs] / seconds[ours]
            verdict = "met" if speedup >= factor else "not met"
            lines.append(f"goal {ours} >= {factor:.1f}x {theirs}: {speedup:.2f}x ({verdict})")
    return lines


class Runner:
    """One configuration: ``step()`` runs one training step and waits for it."""

    def __init__(self, step: Callable[[], None], first_step_s: float, info: dict):
        self.step = step
        self.first_step_s = first_step_s
        self.info = info


def _rss_bytes(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")  # resets VmHWM to the current resident set (Linux >= 4.0)
        return True
    except OSError:
        return False


def timed(step: Callable[[], None], steps: int) -> tuple[list[float], float]:
    """Per-step seconds of ``steps`` steps and the resident-set rise while they ran."""
    reset = _reset_peak_rss()
    before = _rss_bytes("VmRSS")
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    rise = _rss_bytes("VmHWM") - before if reset else float("nan")
    return seconds, rise


def matmul_peaks(with_torch: bool, large: bool = False) -> dict:
    """The best matmul rate per dtype on a few shapes, by JAX (XLA) and PyTorch.

    Args:
        with_torch: Also measure PyTorch (on the CPU).
        large: Shapes big enough to fill an accelerator (8192-wide) instead of the
            CPU's (up to 2048).
    """
    import jax
    import jax.numpy as jnp

    if large:
        shapes = [(8192, 8192, 8192), (16384, 4096, 8192)]
    else:
        shapes = [(2048, 256, 1024), (2048, 1024, 256), (1024, 1024, 1024)]
    measured = {}

    def best(fn, flops):
        fn()
        rates = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(5):
                fn()
            rates.append(5 * flops / (time.perf_counter() - started))
        return max(rates)

    for dtype in ("float32", "bfloat16"):
        jdt = jnp.float32 if dtype == "float32" else jnp.bfloat16
        rate = 0.0
        for m, k, n in shapes:
            a = jnp.ones((m, k), jdt)
            b = jnp.ones((k, n), jdt)
            product = jax.jit(lambda a, b: jnp.matmul(a, b, preferred_element_type=jnp.float32))
            rate = max(
                rate, best(lambda a=a, b=b, p=product: p(a, b).block_until_ready(), 2 * m * k * n)
            )
        measured[f"jax {dtype}" + (" -> float32" if dtype == "bfloat16" else "")] = rate
    if with_torch:
        import torch

        for dtype in ("float32", "bfloat16"):
            tdt = getattr(torch, dtype)
            rate = 0.0
            for m, k, n in shapes:
                a = torch.ones((m, k), dtype=tdt)
                b = torch.ones((k, n), dtype=tdt)
                rate = max(rate, best(lambda a=a, b=b: torch.mm(a, b), 2 * m * k * n))
            measured[f"torch {dtype}"] = rate
    peaks = {"measured": measured}
    for dtype in ("float32", "bfloat16"):
        peaks[dtype] = max(v for k, v in measured.items() if dtype in k.split()[1])
    return peaks


def _batch_arrays(work: Workload, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs = rng.integers(2, work.vocab, (work.batch, work.inputs)).astype(np.int32)
    targets = rng.integers(2, work.vocab, (work.batch, work.targets)).astype(np.int32)
    start = np.zeros((work.batch, 1), np.int32)
    decoder_inputs = np.concatenate([start, targets[:, :-1]], axis=1)
    return inputs, targets, decoder_inputs


def flawn_runner(work: Workload, dtype: str, warmup: int) -> Runner:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from flawn.models.config import T5Config
    from flawn.models.t5 import Transformer
    from flawn.train.config import OptimizerConfig
    from flawn.train.optim import make_optimizer
    from flawn.train.step import make_train_step

    inputs, targets, decoder_inputs = _batch_arrays(work)
    batch = {
        "encoder_input_tokens": inputs,
        "decoder_input_tokens": decoder_inputs,
        "decoder_target_tokens": targets,
        "encoder_segment_ids": np.ones_like(inputs),
        "decoder_segment_ids": np.ones_like(targets),
        "decoder_loss_weights": np.ones(targets.shape, np.float32),
    }
    batch = jax.device_put(batch)
    model = Transformer(T5Config(vocab_size=work.vocab, dtype=dtype, **work.shape))
    params = model.init(jax.random.PRNGKey(0), inputs[:1], decoder_inputs[:1])["params"]
    n_params = sum(x.size for x in jax.tree.leaves(params))
    optimizer = make_optimizer(
        OptimizerConfig(
            name="adafactor",
            learning_rate=LEARNING_RATE,
            schedule="constant",
            warmup_steps=0,
            grad_clip_norm=0.0,
        ),
        total_steps=1000,
    )
    state = {"params": params, "opt_state": optimizer.init(params), "step": jnp.asarray(0)}
    step_fn = jax.jit(make_train_step(model, optimizer, 1e-4, 0), donate_argnums=0)
    compiled = step_fn.lower(state, batch).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    memory = compiled.memory_analysis()
    holder = {"state": state}

    def step():
        holder["state"], metrics = step_fn(holder["state"], batch)
        jax.block_until_ready(metrics)

    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    for _ in range(warmup):
        step()
    info = {"parameters": n_params, "xla_gflop": round(float(cost.get("flops", 0.0)) / 1e9, 1)}
    if memory is not None:
        planned = (
            memory.argument_size_in_bytes
            + memory.output_size_in_bytes
            - memory.alias_size_in_bytes
            + memory.temp_size_in_bytes
        )
        info["xla_planned_mb"] = round(planned / 2**20)
    return Runner(step, first, info)


def hf_runner(work: Workload, dtype: str, compile_model: bool, warmup: int) -> Runner:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration
    from transformers.optimization import Adafactor

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=work.vocab,
        d_model=work.shape["emb_dim"],
        d_kv=work.shape["head_dim"],
        d_ff=work.shape["mlp_dim"],
        num_layers=work.shape["num_encoder_layers"],
        num_decoder_layers=work.shape["num_decoder_layers"],
        num_heads=work.shape["num_heads"],
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    model = T5ForConditionalGeneration(config)
    # T5 1.1 has a separate output layer, but transformers 5 always ties it to the
    # embedding (tie_word_embeddings=False now only turns off the output scaling of
    # original T5): give the head its own weights, as flawn and T5X have.
    if model.lm_head.weight is model.shared.weight:
        model.lm_head.weight = torch.nn.Parameter(model.shared.weight.detach().clone())
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    # T5X's Adafactor: relative step size (times the parameter RMS, at least 1e-3),
    # second-moment decay 1 - t^-0.8, update clipping at 1, no momentum.
    optimizer = Adafactor(
        model.parameters(),
        lr=LEARNING_RATE,
        eps=(1e-30, 1e-3),
        clip_threshold=1.0,
        decay_rate=-0.8,
        beta1=None,
        weight_decay=0.0,
        scale_parameter=True,
        relative_step=False,
        warmup_init=False,
    )
    forward = torch.compile(model) if compile_model else model
    inputs, targets, decoder_inputs = (torch.from_numpy(a).long() for a in _batch_arrays(work))
    attention_mask = torch.ones_like(inputs)
    autocast = dtype == "bfloat16"

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = forward(
                input_ids=inputs,
                attention_mask=attention_mask,
                decoder_input_ids=decoder_inputs,
                labels=targets,
            ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    for _ in range(warmup):
        step()
    return Runner(step, first, {"parameters": n_params})


# ---------------------------------------------------------------------------------------
# The demo's pipeline and loop (--loop)


def demo_loop(args) -> dict:
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
    steps = args.steps or 50
    model_config = get_size(args.size).t5_config()
    args.cache_dir = None
    if args.cached:
        # The tasks' preprocessed examples (read, formatted, tokenized) written once in
        # seqio's cache format, as `flawn data cache` does; pipeline and loop read them.
        import seqio

        from flawn.tasks.cache import cache_mixture

        cache_folder = tempfile.TemporaryDirectory(prefix="flawn-bench-cache-")
        args.cache_dir = cache_folder.name
        started = time.perf_counter()
        cache_mixture(args.mixture, args.cache_dir)
        seqio.add_global_cache_dirs([args.cache_dir])
        print(f"cached {args.mixture} in {time.perf_counter() - started:.1f} s", flush=True)

    batches = train_batches(args.mixture, lengths, args.batch_size, seed=0, use_cached=args.cached)
    batch = next(batches)
    started = time.perf_counter()
    for _ in range(steps):
        batch = next(batches)
    data_seconds = (time.perf_counter() - started) / steps

    model = build_model(model_config, task_vocabulary(args.mixture))
    params = init_params(model, lengths, 0)["params"]
    optimizer = make_optimizer(OptimizerConfig(), steps)
    state = {"params": params, "opt_state": optimizer.init(params), "step": jnp.asarray(0)}
    step = jax.jit(make_train_step(model, optimizer, 1e-4, 0), donate_argnums=0)
    compile_started = time.perf_counter()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    compile_seconds = time.perf_counter() - compile_started

    # The step alone and the real loop (flawn.train.local.train: prefetch thread, metrics
    # fetched at logging steps, no checkpoint until the end) run alternately, round by
    # round, so that both see the same machine: this host's speed drifts within minutes,
    # and measuring one after the other moved the ratio by more than the goal's margin.
    # The loop is timed by its own logged rates; its first window (compiling) is left out.
    rounds = []
    for index in range(args.rounds):
        started = time.perf_counter()
        for _ in range(steps):
            state, metrics = step(state, batch)
            jax.block_until_ready(metrics)
        step_seconds = (time.perf_counter() - started) / steps
        loop_seconds, all_tokens, target_tokens = _loop_round(args, lengths, model_config, steps)
        rounds.append((step_seconds, loop_seconds, all_tokens, target_tokens))
        print(
            f"round {index + 1}/{args.rounds}: step alone {step_seconds * 1000:.1f} ms, "
            f"loop {loop_seconds * 1000:.1f} ms/step, loop/step {loop_seconds / step_seconds:.3f}",
            flush=True,
        )
    step_seconds = statistics.median(r[0] for r in rounds)
    loop_seconds = statistics.median(r[1] for r in rounds)
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    all_tokens = statistics.median(r[2] for r in rounds)
    target_tokens = statistics.median(r[3] for r in rounds)

    n_params = sum(x.size for x in jax.tree.leaves(params))
    figures = {
        "host": f"{platform.machine()}, {os.cpu_count()} cores, {jax.devices()[0].platform}",
        "size": args.size,
        "params": n_params,
        "batch": f"{args.batch_size} x ({args.inputs} + {args.targets}) packed",
        "tasks_read_from": "seqio cache" if args.cached else "their sources",
        "pipeline_batches_per_s": round(1 / data_seconds, 1),
        "compile_s": round(compile_seconds, 1),
        "step_ms": round(step_seconds * 1000, 1),
        "loop_steps_per_s": round(1 / loop_seconds, 2),
        "loop_step_ms": round(loop_seconds * 1000, 1),
        "loop_over_step": round(ratio, 3),
        "loop_over_step_rounds": [round(r[1] / r[0], 3) for r in rounds],
        "loop_input_tokens_per_s": round(all_tokens - target_tokens),
        "loop_target_tokens_per_s": round(target_tokens),
    }
    for key, value in figures.items():
        print(f"{key:28s} {value}")
    return figures


def _loop_round(args, lengths, model_config, steps: int) -> tuple[float, float, float]:
    """One run of ``flawn.train.local.train``: seconds per step, tokens/s, target tokens/s."""
    from flawn.train.config import OptimizerConfig, TrainConfig
    from flawn.train.local import train

    window = 10
    with tempfile.TemporaryDirectory(prefix="flawn-bench-loop-") as folder:
        train(
            TrainConfig(
                model_dir=folder,
                mixture_or_task_name=args.mixture,
                task_feature_lengths=lengths,
                train_steps=steps + window,
                batch_size=args.batch_size,
                model=model_config,
                optimizer=OptimizerConfig(),
                log_every=window,
                checkpoint_every=10**9,
                use_wandb=False,
                report_data=False,
                cache_dir=args.cache_dir,
            )
        )
        with open(os.path.join(folder, "metrics.jsonl"), encoding="utf-8") as rows:
            logged = [json.loads(line) for line in rows][1:]
    loop_seconds = 1 / statistics.fmean(row["steps_per_second"] for row in logged)
    target_tokens = statistics.fmean(row["target_tokens_per_second"] for row in logged)
    all_tokens = statistics.fmean(row["tokens_per_second"] for row in logged)
    return loop_seconds, all_tokens, target_tokens


if __name__ == "__main__":
    main()
