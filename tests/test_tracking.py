import json

import pytest

from flawn.train.tracking import RunTracker, wandb_mode


def test_wandb_mode_defaults_to_offline_without_an_account(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    assert wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode() == "disabled"


def test_metrics_file_without_wandb(tmp_path):
    tracker = RunTracker(tmp_path, "run", {"a": 1}, use_wandb=False)
    tracker.log({"loss": 2.5}, step=10)
    tracker.close()
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {"step": 10, "loss": 2.5}
    assert tracker.wandb_dir is None


@pytest.mark.slow
def test_offline_wandb_run_writes_local_files(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    tracker = RunTracker(
        tmp_path, "offline-run", {"lr": 1e-3}, use_wandb=True, project="flawn-test"
    )
    tracker.log({"loss": 1.0}, step=1)
    tracker.log_table("eval/tasks", ["task", "score"], [["t", 0.5]])
    run_dir = tracker.wandb_dir
    tracker.close()
    assert tracker.mode == "offline"
    assert run_dir is not None and "offline-run-" in run_dir
    files = {p.suffix for p in (tmp_path / "wandb").rglob("*") if p.is_file()}
    assert ".wandb" in files  # the log `wandb sync` uploads


def test_a_key_without_a_network_falls_back_to_offline_and_says_so(monkeypatch, capsys):
    from flawn.train import tracking

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    tracking.wandb_reachable.cache_clear()
    try:
        mode, notice = tracking.effective_mode()
    finally:
        tracking.wandb_reachable.cache_clear()
    assert mode == "offline"
    assert "unreachable" in notice and "wandb sync" in notice


@pytest.mark.slow
def test_a_restarted_run_logs_to_the_same_wandb_run(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    ids = []
    for attempt in range(2):
        tracker = RunTracker(
            tmp_path / f"attempt{attempt}",
            "run",
            {"lr": 1e-3},
            project="flawn-test",
            job_type="train",
            tags=["mixture=demo.legal"],
            run_id="abc123-finetune",
            wandb_dir=tmp_path,
        )
        tracker.log({"loss": 1.0 / (attempt + 1)}, step=10 * (attempt + 1))
        ids.append(tracker.wandb_id)
        tracker.close()
    assert ids == ["abc123-finetune", "abc123-finetune"]
    runs = sorted(p.name for p in (tmp_path / "wandb").iterdir() if p.name.startswith("offline-"))
    assert len(runs) == 2 and all("-abc123-finetune" in name for name in runs)
