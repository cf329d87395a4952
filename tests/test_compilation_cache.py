"""JAX's persistent compilation cache as flawn sets it up (flawn.compilation_cache)."""

import json
import os
import re
import subprocess
import sys

import jaxlib
import pytest

from flawn import compilation_cache

#: Jits one function in a fresh interpreter; prints the cache folder and JAX's cache hits.
PROGRAM = r"""
import json
import jax, jax.numpy as jnp
from jax import monitoring
from flawn.compilation_cache import enable_compilation_cache

hits = []
monitoring.register_event_listener(
    lambda event, **kw: hits.append(event) if event.endswith("/cache_hits") else None)
folder = enable_compilation_cache()
value = jax.jit(lambda x: jnp.tanh(x @ x.T).sum())(jnp.arange(64.0).reshape(8, 8) / 64)
print("RESULT " + json.dumps({"folder": str(folder) if folder else None,
                              "hits": len(hits), "value": float(value)}))
"""


def _run(env_updates: dict) -> dict:
    env = {**os.environ, **env_updates}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return {**json.loads(line.removeprefix("RESULT ")), "stderr": done.stderr}


def test_the_default_folder_is_per_cache_dir_and_host(tmp_path, monkeypatch):
    monkeypatch.delenv("FLAWN_COMPILATION_CACHE", raising=False)
    monkeypatch.setenv("FLAWN_CACHE_DIR", str(tmp_path))
    key = compilation_cache.host_key()
    assert re.fullmatch(rf"jaxlib-{re.escape(jaxlib.__version__)}-[\w.-]+-[0-9a-f]{{12}}", key)
    assert compilation_cache.host_key() == key  # stable within a host
    assert compilation_cache.cache_path() == tmp_path / "jax" / key
    monkeypatch.setenv("FLAWN_COMPILATION_CACHE", str(tmp_path / "mine"))
    assert compilation_cache.cache_path() == tmp_path / "mine"
    for off in ("off", "OFF", "0", "false", "none"):
        monkeypatch.setenv("FLAWN_COMPILATION_CACHE", off)
        assert compilation_cache.cache_path() is None


@pytest.mark.slow
def test_a_second_process_loads_what_the_first_compiled(tmp_path):
    folder = tmp_path / "cache"
    first = _run({"FLAWN_COMPILATION_CACHE": str(folder)})
    assert first["folder"] == str(folder) and first["hits"] == 0
    written = sorted(p.name for p in folder.iterdir())
    assert written, "nothing was written to the cache"
    second = _run({"FLAWN_COMPILATION_CACHE": str(folder)})
    assert second["hits"] >= 1
    assert second["value"] == first["value"]
    assert sorted(p.name for p in folder.iterdir()) == written  # read, not written again
    off = _run({"FLAWN_COMPILATION_CACHE": "off"})
    assert off["folder"] is None and off["hits"] == 0 and off["value"] == first["value"]


def test_prune_removes_the_oldest_files_beyond_the_bound(tmp_path):
    for age, name in enumerate(["newest", "newer", "older", "oldest"]):
        path = tmp_path / name
        path.write_bytes(b"x" * 100)
        stamp = 1_000_000 - age * 1000
        os.utime(path, (stamp, stamp))
    assert compilation_cache.prune(tmp_path, max_bytes=400, prune_to=200) == 0
    assert compilation_cache.prune(tmp_path, max_bytes=350, prune_to=200) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer", "newest"]
    assert compilation_cache.prune(tmp_path / "absent", 0, 0) == 0


@pytest.mark.slow
def test_an_uncreatable_folder_compiles_without_a_cache(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = _run({"FLAWN_COMPILATION_CACHE": str(blocker / "cache")})
    assert result["folder"] is None and result["hits"] == 0
    assert "compiling without a persistent cache: cannot create" in result["stderr"]
