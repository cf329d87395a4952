"""Checkpoints that cannot be written or read: one clear error, no orbax or asyncio noise.

Each case runs in a fresh interpreter and checks everything it printed: orbax's
tracebacks come from its threads and from callbacks that run after the failing
call returned, so only a whole process's output shows whether they are gone.
"""

import os
import pathlib
import subprocess
import sys

import pytest

# Saves steps 10 and 20, truncates step 20's data files (a copy cut short), finds the
# newest readable step, trains on from it and saves step 20 again.
TRUNCATED = """
import pathlib, sys
import numpy as np
from flawn.train.checkpoints import Checkpointer

def state(step):
    return {"params": {f"w{i}": np.full((64, 32), step, np.float32) for i in range(8)},
            "step": np.asarray(step, np.int32)}

folder = pathlib.Path(sys.argv[1])
saver = Checkpointer(folder)
for step in (10, 20):
    saver.save(step, state(step))
saver.close()
for path in (folder / "20").rglob("*"):
    if path.is_file() and path.parent.name == "d":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
checkpointer = Checkpointer(folder)
print("LATEST", checkpointer.latest_step(), flush=True)
checkpointer.save(20, state(20))
checkpointer.close()
print("DONE", flush=True)
"""

# Saves a checkpoint under a file-size limit (setrlimit, no privileges needed): the data
# file cannot be written, as on a disk that fills up while orbax writes.
WRITE_FAILS = """
import resource, signal, sys
import numpy as np
from flawn.train.checkpoints import Checkpointer, CheckpointError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
checkpointer = Checkpointer(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.RLIM_INFINITY))
state = {"params": {f"w{i}": np.random.rand(64, 64).astype(np.float32) for i in range(8)},
         "step": np.asarray(1, np.int32)}
try:
    checkpointer.save(1, state)
except CheckpointError as err:
    print("ERROR", err, flush=True)
    print("NOTES", len(getattr(err, "__notes__", [])), flush=True)
checkpointer.close()
"""


def _run(script: str, folder: pathlib.Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def _noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if "Traceback" in line or "Event loop" in line]


@pytest.mark.slow
def test_a_truncated_checkpoint_is_one_warning_naming_the_file_and_nothing_else(tmp_path):
    done = _run(TRUNCATED, tmp_path / "ckpt")
    assert done.stdout.splitlines() == ["LATEST 10", "DONE"]
    assert not _noise(done.stderr), done.stderr[-4000:]
    (warning, moved) = [line for line in done.stderr.splitlines() if line.strip()]
    assert "step 20" in warning and "cannot be read" in warning and "using step 10" in warning
    assert str(tmp_path / "ckpt" / "20" / "default" / "d") in warning  # the file cut short
    assert "moved to" in moved


@pytest.mark.slow
def test_a_checkpoint_that_cannot_be_written_is_one_error_with_orbax_records_attached(tmp_path):
    folder = tmp_path / "ckpt"
    done = _run(WRITE_FAILS, folder)
    assert not _noise(done.stderr) and not done.stderr.strip(), done.stderr[-4000:]
    (error, notes) = done.stdout.splitlines()
    assert error.startswith(f"ERROR the checkpoint of step 1 cannot be written to {folder}")
    assert "File too large" in error
    assert int(notes.split()[1]) > 0  # orbax's log records go with the error, not to stderr
    assert os.listdir(folder) == []  # the half-written step is removed


def test_a_truncated_checkpoint_is_named_and_a_good_one_is_read_once_per_use(tmp_path, monkeypatch):
    """A good checkpoint is read once per use; the file-naming read only follows a failed one.

    :func:`flawn.train.checkpoints._verify_item` (which names the file cut short) runs only
    after orbax's read failed: for the truncated step 20, never for the good step 10, which
    finding the newest readable step and reading its parameters each read once.
    """
    import numpy as np

    from flawn.train import checkpoints

    def state(step):
        return {"params": {"w": np.full((4, 3), step, np.float32)}, "step": np.asarray(step)}

    saver = checkpoints.Checkpointer(tmp_path)
    for step in (10, 20):
        saver.save(step, state(step))
    saver.close()
    for path in (tmp_path / "20").rglob("*"):
        if path.is_file() and path.parent.name == "d":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    read, verified = [], []
    real_read, real_verify = checkpoints._read_item, checkpoints._verify_item
    monkeypatch.setattr(
        checkpoints,
        "_read_item",
        lambda item, keys=None: read.append(item) or real_read(item, keys),
    )
    monkeypatch.setattr(
        checkpoints, "_verify_item", lambda item: verified.append(item) or real_verify(item)
    )
    checkpointer = checkpoints.Checkpointer(tmp_path)
    assert checkpointer.latest_step() == 10
    assert "local file" in checkpointer.unreadable()[20]  # tensorstore names the file
    assert str(tmp_path / "20" / "default" / "d") in checkpointer.unreadable()[20]
    bad, good = str(tmp_path / "20" / "default"), str(tmp_path / "10" / "default")
    assert read == [bad, good] and verified == [bad]
    read.clear(), verified.clear()
    params, step = checkpoints.read_params(tmp_path)
    assert step == 10 and params["w"][0, 0] == 10
    assert read == [bad, good] and verified == [bad]


def _tmpfs(path: pathlib.Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    return mounted.returncode == 0


# Saves checkpoints of random (incompressible) arrays to a disk of 128 KiB: the first, of
# 80 KB, fits and the next does not (found before writing); one of 120 KB into an empty
# folder fails while orbax writes it.
DISK_FULL = """
import sys
import numpy as np
from flawn.train.checkpoints import Checkpointer, CheckpointError

def state(rows):
    return {"params": {"w": np.random.rand(rows, 100).astype(np.float32)},
            "step": np.asarray(1, np.int32)}

for folder, sizes in ((sys.argv[1] + "/a", (200, 200)), (sys.argv[1] + "/b", (300,))):
    checkpointer = Checkpointer(folder)
    for step, rows in enumerate(sizes, 1):
        try:
            checkpointer.save(step, state(rows))
        except CheckpointError as err:
            print("ERROR", err, flush=True)
    checkpointer.close()
    if folder.endswith("/a"):
        import shutil
        shutil.rmtree(folder)
"""


@pytest.mark.slow
def test_a_full_disk_is_one_error_saying_what_to_do(tmp_path):
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "128k"):
        pytest.skip("a small disk needs `mount -t tmpfs`, which needs root")
    try:
        done = _run(DISK_FULL, disk / "ckpt")
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert not done.stderr.strip(), done.stderr[-4000:]
    (before, during) = done.stdout.splitlines()
    assert "step 2 cannot be written" in before and "needed as for step 1" in before
    assert "step 1 cannot be written" in during and "RESOURCE_EXHAUSTED" in during
    for error in (before, during):
        assert "the disk is full" in error
        assert "free space there" in error and "resumes from the last checkpoint" in error
