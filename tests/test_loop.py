"""The training loop: batches prepared ahead, metrics fetched only when logged, evals as curves."""

import json
import threading
import time

import jax
import numpy as np
import pytest

from flawn.train.metrics_window import MetricsWindow
from flawn.train.prefetch import Prefetcher


def _config(model_dir, steps, **overrides):
    from flawn.models.config import T5Config
    from flawn.train.config import OptimizerConfig, TrainConfig

    return TrainConfig(
        model_dir=str(model_dir),
        mixture_or_task_name="demo.general_plus_legal",
        task_feature_lengths={"inputs": 144, "targets": 16},
        train_steps=steps,
        batch_size=8,
        model=T5Config(
            emb_dim=64,
            num_heads=2,
            head_dim=32,
            mlp_dim=128,
            num_encoder_layers=1,
            num_decoder_layers=1,
        ),
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=5),
        seed=3,
        log_every=5,
        checkpoint_every=10,
        use_wandb=False,
        **overrides,
    )


def _numbered(n=None, fail_at=None):
    i = 0
    while n is None or i < n:
        if i == fail_at:
            raise ValueError(f"bad record in batch {i}")
        yield {"x": np.full((2, 3), i)}
        i += 1


def _prefetchers_alive():
    return [t for t in threading.enumerate() if t.name == "flawn-prefetch" and t.is_alive()]


@pytest.mark.parametrize("size", [0, 1, 3])
def test_prefetched_batches_come_in_order_with_their_counts(size):
    with Prefetcher(
        _numbered(5),
        place=lambda b: b["x"] + 100,
        stats=lambda b: {"first": int(b["x"][0, 0])},
        size=size,
    ) as prefetcher:
        got = [(int(p.batch[0, 0]), p.stats["first"]) for p in prefetcher]
    assert got == [(100 + i, i) for i in range(5)]
    assert not _prefetchers_alive()


def test_an_error_while_reading_reaches_the_loop_at_its_batch():
    with Prefetcher(_numbered(fail_at=2), place=lambda b: b, stats=lambda b: {}, size=2) as p:
        next(p), next(p)
        with pytest.raises(ValueError, match="bad record in batch 2"):
            next(p)
        with pytest.raises(ValueError):  # and stays raised
            next(p)
    assert not _prefetchers_alive()


def test_closing_never_hangs_on_a_full_queue_or_a_stuck_reader():
    prefetcher = Prefetcher(_numbered(), place=lambda b: b, stats=lambda b: {}, size=2)
    next(prefetcher)
    time.sleep(0.3)  # the thread fills the queue and blocks on it
    started = time.perf_counter()
    prefetcher.close()
    assert time.perf_counter() - started < 2 and not _prefetchers_alive()

    release = threading.Event()

    def stuck():
        yield {"x": np.zeros(1)}
        release.wait(60)  # a tf.data read that never returns
        yield {"x": np.ones(1)}

    prefetcher = Prefetcher(stuck(), place=lambda b: b, stats=lambda b: {}, size=2)
    next(prefetcher)
    with pytest.raises(RuntimeError, match="the loop stopped"), prefetcher:
        raise RuntimeError("the loop stopped")  # e.g. a failed step
    # close() gave up waiting after its timeout; the thread is a daemon and cannot
    # keep the process alive.
    assert all(t.daemon for t in _prefetchers_alive())
    release.set()


def test_the_window_reduces_device_metrics_and_rates_once():
    now = [0.0]
    window = MetricsWindow(clock=lambda: now[0])
    for loss in (1.0, 3.0):
        window.add({"loss": jax.numpy.asarray(loss)}, {"input_tokens": 30, "target_tokens": 10})
    now[0] = 4.0
    window.exclude(2.0)  # an evaluation in between
    row = window.reduce()
    assert row["loss"] == 2.0
    assert row["steps_per_second"] == 1.0  # 2 steps in 4 - 2 s
    assert row["target_tokens_per_second"] == 10.0 and row["tokens_per_second"] == 40.0
    window.restart()
    assert len(window) == 0
    with pytest.raises(ValueError, match="empty"):
        window.reduce()


@pytest.mark.slow
def test_the_loop_fetches_metrics_only_when_it_logs_and_stops_cleanly(tmp_path, monkeypatch):
    """10 steps, logged every 5: two fetches; a failing hook stops it without a stuck thread."""
    import flawn.tasks  # noqa: F401
    from flawn.train.local import train

    fetches = []
    real_get = jax.device_get
    monkeypatch.setattr(jax, "device_get", lambda x: fetches.append(1) or real_get(x))

    def stop_at_ten(step, total, metrics):
        if step == 10:
            raise KeyboardInterrupt("preempted")

    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path / "run", steps=20, report_data=False), hooks=[stop_at_ten])
    assert len(fetches) == 2
    assert not _prefetchers_alive()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [row["step"] for row in rows] == [5, 10]
    assert {"learning_rate", "grad_norm", "tokens_per_second", "mfu"} <= set(rows[0])


@pytest.mark.slow
def test_evaluations_during_training_are_curves_not_results(tmp_path):
    import flawn.tasks  # noqa: F401
    from flawn.train.local import train

    config = _config(
        tmp_path / "run",
        steps=10,
        report_data=False,
        eval_every=5,
        eval_tasks=("sample_governing_law", "sample_clause_type"),
        eval_limit=4,
        eval_max_decode_length=4,
    )
    train(config)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [row["step"] for row in rows] == [5, 10]  # merged with the training rows
    for row in rows:
        scores = [row["eval/sample/sample_governing_law"], row["eval/sample/sample_clause_type"]]
        assert all(0 <= s <= 1 for s in scores)
        assert row["eval/sample/mean"] == pytest.approx(np.mean(scores))
    assert not (tmp_path / "run" / "eval").exists()  # final evaluations only live there


def test_an_unknown_eval_suite_stops_the_run_before_it_trains(tmp_path):
    import flawn.tasks  # noqa: F401
    from flawn.errors import ConfigError
    from flawn.train.local import train

    with pytest.raises(ConfigError, match="no_such_suite"):
        train(_config(tmp_path / "run", steps=2, eval_every=1, eval_suite="no_such_suite"))
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_the_loop_accumulates_micro_batches_to_the_full_batch_update(tmp_path):
    """grad_accum_steps reaches the jitted step: same losses and parameters as one big batch."""
    import dataclasses

    import flawn.tasks  # noqa: F401
    from flawn.train.local import train

    def run(name, **overrides):
        config = _config(tmp_path / name, steps=3, report_data=False, **overrides)
        config = dataclasses.replace(config, log_every=1)
        # Without dropout: micro-batches draw their own masks, so only then are the two equal.
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, dropout_rate=0.0)
        )
        result = train(config)
        rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").open()]
        return result, [row["loss"] for row in rows]

    whole, whole_losses = run("whole")
    accumulated, accumulated_losses = run("accumulated", grad_accum_steps=4)
    assert len(whole_losses) == 3 and whole_losses[2] != whole_losses[0]
    np.testing.assert_allclose(accumulated_losses, whole_losses, rtol=1e-5)
    for a, b in zip(
        jax.tree.leaves(whole.params), jax.tree.leaves(accumulated.params), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5)
