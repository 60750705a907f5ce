"""Partitioned programs across processes: two local processes joined by jax.distributed
(tests/distributed_worker.py), each with two emulated CPU devices, run the data-parallel
gradient and a ZeRO training step over a 4-device mesh spanning both."""
import os
import socket
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_agree_with_the_local_program():
    port = free_port()
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, WORKER, str(i), "2", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=240)
            outs.append((p.returncode, out, err))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail("the two-process run did not finish in 240 s")
    for i, (code, out, err) in enumerate(outs):
        assert code == 0, f"process {i} failed ({code}):\n{err[-3000:]}"
        assert out.strip().splitlines()[-1].startswith("ok "), out
