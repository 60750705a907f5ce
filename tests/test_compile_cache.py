"""ppc keeps XLA's compiled programs between runs (JAX's persistent compilation cache):
a second process compiling the same machine loads it instead, with the same results;
PPC_CACHE_DIR="" turns it off and a cache directory the user gave JAX is left alone."""
import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, sys
import jax
hits = []
jax.monitoring.register_event_listener(lambda name, **kw: hits.append(name) if name.endswith("cache_hits") else None)
import numpy as np
import ppc

@ppc.compile
def fib(n):
    if n < 2:
        return 1
    return fib(n - 1) + fib(n - 2)

out = [int(fib(np.int32(n))) for n in (5, 9)]
print(json.dumps({"out": out, "hits": len(hits), "dir": jax.config.jax_compilation_cache_dir}))
"""


def run(env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PPC_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR")}
    env.update(env_extra, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", XDG_CACHE_HOME=str(tmp_path / "xdg"))
    script = tmp_path / "fib.py"  # (ppc reads the function's source from its file)
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def entries(path):
    return [f for f in os.listdir(path) if f.endswith("-cache")] if os.path.isdir(path) else []


def test_second_run_loads_compiled_programs(tmp_path):
    cache = tmp_path / "cache"
    first = run({"PPC_CACHE_DIR": str(cache)}, tmp_path)
    assert first["out"] == [8, 55] and first["hits"] == 0 and first["dir"] == str(cache)
    assert entries(cache)
    second = run({"PPC_CACHE_DIR": str(cache)}, tmp_path)
    assert second["out"] == [8, 55] and second["hits"] >= 1


def test_default_directory_is_under_the_user_cache(tmp_path):
    got = run({}, tmp_path)
    assert got["dir"] == str(tmp_path / "xdg" / "ppc" / "jax") and entries(got["dir"])


def test_empty_setting_turns_it_off(tmp_path):
    got = run({"PPC_CACHE_DIR": ""}, tmp_path)
    assert got["out"] == [8, 55] and got["dir"] is None and not (tmp_path / "xdg").exists()


def test_jax_setting_wins(tmp_path):
    mine = tmp_path / "mine"
    got = run({"JAX_COMPILATION_CACHE_DIR": str(mine), "PPC_CACHE_DIR": str(tmp_path / "ppc")}, tmp_path)
    assert got["dir"] == str(mine) and entries(mine) and not (tmp_path / "ppc").exists()
