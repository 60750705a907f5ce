"""One process of a two-process partitioned run (tests/test_distributed.py starts two).

    python tests/distributed_worker.py PROCESS_ID NUM_PROCESSES PORT

Each process holds 2 emulated CPU devices; jax.distributed joins them into one set of
4 global devices, over which ppc.partition lays its mesh, exactly as on a GPU cluster with
one process per host. Both processes run the same program on the same inputs (SPMD); each
checks the results against the unpartitioned program run locally and prints one line,
`ok MAX_ERROR`, or fails.
"""
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")  # collectives between CPU processes

import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

import ppc  # noqa: E402
from ppc.partition import Mesh, apply, tile  # noqa: E402

from partition_programs import STRATEGIES, step  # noqa: E402  (this script's directory is on sys.path)


def log_joint(w, X, y):
    logits = X @ w
    return np.sum(y * logits - np.logaddexp(0.0, logits)) - 0.5 * np.sum(w * w)


def whole(x):
    """A result as one host array: results tiled over other processes' devices are global
    arrays this process cannot read alone."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def main():
    pid, n, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=n, process_id=pid)
    assert len(jax.devices()) == 2 * n and len(jax.local_devices()) == 2, jax.devices()
    rng = np.random.default_rng(0)  # the same inputs in every process
    w, X = rng.normal(size=5), rng.normal(size=(64, 5))
    y = (rng.uniform(size=64) < 0.5).astype(np.float64)
    mesh = Mesh({"batch": 2 * n})
    errors = []

    grad = ppc.grad(log_joint)  # data parallel: one all-reduce across the processes
    got = apply(grad, [tile("X", 0, "batch"), tile("y", 0, "batch")], mesh)(w, X, y)
    errors.append(np.max(np.abs(whole(got) - np.asarray(grad(w, X, y)))))

    # ZeRO: parameters and results sharded across the processes
    args = [rng.normal(size=(8, 16)), rng.normal(size=(16, 4)), rng.normal(size=(32, 8)), rng.normal(size=(32, 4))]
    got = apply(step, STRATEGIES["zero"], mesh)(*args)
    errors += [np.max(np.abs(whole(g) - np.asarray(r))) for g, r in zip(got, step(*args))]

    worst = float(max(errors))
    if not worst < 1e-10:
        sys.exit(f"process {pid}: partitioned results differ from the local program by {worst}")
    print(f"ok {worst:.3g}", flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
