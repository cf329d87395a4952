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


# Logs one step under a run id, then prints what the tracker decided; in a fresh
# interpreter, as W&B keeps one service process per interpreter.
TRACK_ONE_STEP = """
import json, sys
from flawn.train.tracking import RunTracker

tracker = RunTracker(sys.argv[1], "run", {"lr": 1e-3}, project="flawn-test", run_id="abc-train")
tracker.log({"loss": 1.0}, step=1)
folder = tracker.wandb_dir
tracker.close()
print("RESULT " + json.dumps({"mode": tracker.mode, "notice": tracker.notice, "folder": folder}))
"""


class _FailingServer:
    """A W&B host on the loopback that accepts connections and answers every request with 500."""

    def __enter__(self):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def _fail(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = _fail

            def log_message(self, *args):  # keep the test's output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# Starts a W&B service (an offline run), then runs TRACK_ONE_STEP in a child, which
# inherits the service's address (WANDB_SERVICE) as a sweep worker or a test would.
WITH_A_PARENT_SERVICE = """
import os, subprocess, sys
from flawn.train.tracking import RunTracker

os.environ["WANDB_MODE"] = "offline"
RunTracker(sys.argv[1] + "/parent", "parent", {}, project="flawn-test").close()
assert os.environ.get("WANDB_SERVICE")
del os.environ["WANDB_MODE"]
child = subprocess.run([sys.executable, "-c", sys.argv[2], sys.argv[1]], env=os.environ)
sys.exit(child.returncode)
"""


@pytest.mark.slow
@pytest.mark.parametrize("service", ["own", "inherited"])
def test_a_host_that_connects_but_fails_requests_falls_back_to_offline(tmp_path, service):
    import os
    import subprocess
    import sys

    from flawn.train.wandb_offline import read_offline_run

    command = [sys.executable, "-c", TRACK_ONE_STEP, str(tmp_path)]
    if service == "inherited":
        command = [sys.executable, "-c", WITH_A_PARENT_SERVICE, str(tmp_path), TRACK_ONE_STEP]
    with _FailingServer() as url:
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("WANDB_MODE", "WANDB_SERVICE")},
            "WANDB_API_KEY": "x" * 40,
            "WANDB_BASE_URL": url,
            "WANDB_INIT_TIMEOUT": "5",  # W&B's own wait for its server (90 s by default)
        }
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["mode"] == "offline"
    assert "online init failed" in result["notice"] and "wandb sync" in result["notice"]
    run = read_offline_run(result["folder"])
    assert run.run_id == "abc-train"  # the id a later attempt resumes by
    assert run.metric("loss") == [(1, 1.0)]
