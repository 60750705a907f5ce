"""NUTS on Bayesian logistic regression, side by side: ppc (recursive NUTS, chains as
members of the program-counter machine), NumPyro (NUTS, chain_method="vectorized") and
Stan (through pystan, when installed). Every figure is end to end: compilation and warmup
included, for every system.

    python benchmarks/nuts.py                       # defaults below
    python benchmarks/nuts.py --chains 1,16,128 --warmup 300 --samples 300 --systems ppc,numpyro,stan
    python benchmarks/nuts.py --strategies --chains 4,16 --samples 5   # ppc's two batching strategies
    python benchmarks/nuts.py --dtype float32 --systems ppc,numpyro    # NumPyro's default precision

Each ppc row compiles its machine afresh (the chain count is in its shapes); what ppc
builds for one chain (the model's density and gradient, milliseconds) is shared between
the rows of a data set, as in any one process.

Columns: useful leapfrog steps per second (leapfrogs the chains needed, over wall time),
min bulk ESS per second (over every parameter), batch utilization (useful leapfrog
slots over executed ones: ppc counts its leapfrog block's members, NumPyro runs every
chain for as many steps as the longest trajectory of the draw), time to the first
post-warmup draw, and the share of the machine's measured matmul rate (at --dtype) spent
in useful gradient work (4*N*D flops per leapfrog: X @ w and X.T @ r).

--dtype sets the precision of the data and so of ppc's and NumPyro's whole computation
(float64 by default; Stan always computes in double). NumPyro runs in a process of its
own with JAX's 64-bit mode set to match: in one process with ppc (which turns 64-bit mode
on) its float32 momenta would silently be float64.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # every compile is timed afresh: no persistent cache
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

if "--numpyro-worker" not in sys.argv:  # (importing ppc turns JAX's 64-bit mode on: not in NumPyro's process)
    if "--devices" in sys.argv:  # before JAX starts: CPU devices for ppc's chains to be split over (in this
        import jax  # noqa: E402   process only: NumPyro's runs in its own, with JAX's one CPU device)
        jax.config.update("jax_num_cpu_devices", int(sys.argv[sys.argv.index("--devices") + 1]))
    import ppc  # noqa: E402
    import ppc.infer  # noqa: E402
    from ppc.autobatch import shared  # noqa: E402


def datasets(names, dtype="float64"):
    out = {}
    if "synthetic" in names:
        rng = np.random.default_rng(0)
        N, D = 10_000, 50
        X = rng.normal(size=(N, D)) / np.sqrt(D)
        w = rng.normal(size=D)
        y = (rng.uniform(size=N) < 1 / (1 + np.exp(-(X @ w)))).astype(np.float64)
        out["synthetic N=10000 D=50"] = (X, y)
    if "breast_cancer" in names:
        from sklearn.datasets import load_breast_cancer
        data = load_breast_cancer()
        X = (data.data - data.data.mean(0)) / data.data.std(0)
        out["breast cancer N=569 D=30"] = (X, data.target.astype(np.float64))
    return {name: (X.astype(dtype), y.astype(dtype)) for name, (X, y) in out.items()}


def matmul_rate(dtype, n=1500, repeats=5):
    import jax
    import jax.numpy as jnp
    a = jnp.asarray(np.random.default_rng(0).normal(size=(n, n)).astype(dtype))
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f(a).block_until_ready()
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / np.median(times)


def min_ess(idata, names):
    import arviz as az
    ess = az.ess(idata, var_names=names, method="bulk")
    return float(min(float(ess[n].min()) for n in names))


# -- ppc ---------------------------------------------------------------------------------

def logistic_ppc(X):
    w = ppc.Normal(np.zeros(X.shape[1], X.dtype), 1.0)
    y = ppc.Bernoulli(logits=X @ w)
    return y


def run_ppc(X, y, chains, warmup, samples, seed, devices=1):
    from ppc.partition import Mesh
    mesh = Mesh({"batch": devices}) if devices > 1 else None
    t0 = time.perf_counter()
    idata = ppc.infer.nuts(ppc.condition(logistic_ppc, y=y), X, chains=chains, num_warmup=warmup,
                           num_samples=samples, seed=seed, progress=False, mesh=mesh,
                           diagnose=False)  # (like NumPyro's timed run: ESS is computed for both after the timer)
    wall = time.perf_counter() - t0
    st = idata.sample_stats
    useful = float(st.attrs["useful_leapfrogs"])
    return dict(wall=wall, useful=useful, ess=min_ess(idata, ["w"]), util=st.attrs["leapfrog_utilization"],
                first=st.attrs["time_to_first_draw"], mean=idata.posterior["w"].mean(("chain", "draw")).values)


# -- NumPyro ---------------------------------------------------------------------------------

def logistic_numpyro(X, y=None):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    w = numpyro.sample("w", dist.Normal(jnp.zeros(X.shape[1], X.dtype), 1.0))
    numpyro.sample("y", dist.Bernoulli(logits=X @ w), obs=y)


def run_numpyro(X, y, chains, warmup, samples, seed):
    """NumPyro in a process of its own (64-bit mode as X's dtype asks): run_numpyro_here's result."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, X=X, y=y)
        env = dict(os.environ, JAX_ENABLE_X64="1" if X.dtype == np.float64 else "0")
        job = json.dumps(dict(path=path, chains=chains, warmup=warmup, samples=samples, seed=seed))
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--numpyro-worker", job], env=env,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"the NumPyro process failed:\n{done.stderr[-3000:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    r["mean"] = np.asarray(r["mean"])
    return r


def run_numpyro_here(X, y, chains, warmup, samples, seed):
    import arviz as az
    import jax
    from numpyro.infer import MCMC, NUTS
    jax.numpy.zeros(()).block_until_ready()  # JAX's backend starts untimed, as in ppc's process
    t0 = time.perf_counter()
    mcmc = MCMC(NUTS(logistic_numpyro), num_warmup=warmup, num_samples=samples, num_chains=chains,
                chain_method="vectorized", progress_bar=False)
    key = jax.random.PRNGKey(seed)
    mcmc.warmup(key, X, y=y, collect_warmup=True, extra_fields=("num_steps",))
    warm_steps = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"])
    first = time.perf_counter() - t0
    mcmc.run(mcmc.post_warmup_state.rng_key, X, y=y, extra_fields=("num_steps",))
    steps = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"])
    wall = time.perf_counter() - t0
    draws = mcmc.get_samples()["w"]
    if draws.dtype != X.dtype:
        raise AssertionError(f"NumPyro sampled in {draws.dtype}, not {X.dtype}")
    all_steps = np.concatenate([warm_steps.reshape(chains, -1), steps.reshape(chains, -1)], axis=1)
    useful = float(all_steps.sum())
    executed = float(all_steps.max(axis=0).sum() * chains)  # lockstep: every chain as long as the longest
    idata = az.from_numpyro(mcmc)
    return dict(wall=wall, useful=useful, ess=min_ess(idata, ["w"]), util=useful / executed, first=first,
                mean=idata.posterior["w"].mean(("chain", "draw")).values.tolist())


def numpyro_worker(job: str):
    j = json.loads(job)
    data = np.load(j["path"])
    r = run_numpyro_here(data["X"], data["y"], j["chains"], j["warmup"], j["samples"], j["seed"])
    print(json.dumps(r))


# -- Stan ----------------------------------------------------------------------------------

STAN = """
data { int<lower=0> N; int<lower=0> D; matrix[N, D] X; array[N] int<lower=0, upper=1> y; }
parameters { vector[D] w; }
model { w ~ normal(0, 1); y ~ bernoulli_logit(X * w); }
"""


def run_stan(X, y, chains, warmup, samples, seed):
    import arviz as az
    import stan
    t0 = time.perf_counter()
    model = stan.build(STAN, data={"N": X.shape[0], "D": X.shape[1], "X": X, "y": y.astype(int)}, random_seed=seed)
    built = time.perf_counter()
    fit = model.sample(num_chains=chains, num_warmup=warmup, num_samples=samples, save_warmup=True)
    wall = time.perf_counter() - t0
    steps = np.asarray(fit["n_leapfrog__"]).reshape(-1)
    idata = az.from_pystan(posterior=fit)
    return dict(wall=wall, useful=float(steps.sum()), ess=min_ess(idata, ["w"]), util=float("nan"),
                first=(built - t0) + (wall - (built - t0)) * warmup / (warmup + samples),  # estimated: pro rata
                mean=np.asarray(fit["w"]).mean(axis=1))


# -- ppc's batching strategies on the same sampler ------------------------------------------

def strategies(X, y, chains, draws, seed):
    """The NUTS program (fixed step size and unit mass, no warmup, from one start) batched
    by each strategy: seconds for `draws` draws per chain after a first, compiling call,
    and useful leapfrogs per second. Both draw the same trajectories (checked)."""
    import jax
    from ppc import ad
    from ppc.infer.nuts import make_nuts
    from ppc.ppl import unconstrained
    u = unconstrained(ppc.condition(logistic_ppc, y=y), X)
    vg = ad.value_and_grad_with_overflow(u.log_density_fn)
    args = tuple(np.asarray(a) for a in u.args)
    q = np.random.default_rng(seed).normal(size=(chains, u.size)) * 0.1
    (lp, g), _ = ppc.autobatch(vg, strategy="local_static")(q, *[a[None] for a in args])
    lp, g = np.asarray(lp), np.asarray(g)
    zero = np.zeros(chains)
    out = {}
    for strategy in ("program_counter", "local_static"):
        sampler = ppc.autobatch(ppc.compile(make_nuts(vg, 10, draws)), strategy=strategy, max_stack_depth=12)
        times = []
        for _ in range(2):  # the first call compiles
            t = time.perf_counter()
            res = sampler(q, lp, g, np.full(chains, np.log(0.05)), np.ones((chains, u.size)), zero, zero, zero, zero,
                          jax.random.split(jax.random.key(seed), chains), np.full(chains, draws), False, 0.8, shared(args))
            res = [np.asarray(r) for r in res[8:]]
            times.append(time.perf_counter() - t)
        out[strategy] = (times, res)
    (pc_t, pc), (ls_t, ls) = out["program_counter"], out["local_static"]
    if not all(np.allclose(a, b) for a, b in zip(pc, ls)):
        raise AssertionError("the two strategies drew different trajectories")
    useful = pc[1][:, :, 1].sum()
    return useful, pc_t, ls_t


def strategy_table(a):
    print(f"# NUTS program, fixed step size 0.05, {a.samples} draws per chain, time after a compiling call")
    print(f"{'data':26s} {'chains':>6s} {'leapfrogs':>9s} {'pc s':>8s} {'local s':>8s} {'pc lf/s':>9s} "
          f"{'local lf/s':>10s} {'pc/local':>8s} {'pc 1st s':>8s} {'local 1st s':>11s}")
    for dname, (X, y) in datasets(a.datasets.split(",")).items():
        for chains in [int(c) for c in a.chains.split(",")]:
            useful, pc, ls = strategies(X, y, chains, a.samples, a.seed)
            print(f"{dname:26s} {chains:6d} {useful:9.0f} {pc[1]:8.3f} {ls[1]:8.3f} {useful / pc[1]:9.0f} "
                  f"{useful / ls[1]:10.0f} {ls[1] / pc[1]:8.1f} {pc[0]:8.1f} {ls[0]:11.1f}", flush=True)


SYSTEMS = {"ppc": run_ppc, "numpyro": run_numpyro, "stan": run_stan}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chains", default="1,16,128")
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--datasets", default="synthetic,breast_cancer")
    p.add_argument("--systems", default="ppc,numpyro,stan")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of the data, and so of ppc's and NumPyro's computation (Stan: always double)")
    p.add_argument("--devices", type=int, default=1,
                   help="split ppc's chains over this many devices (on CPU, emulated: one machine per core)")
    p.add_argument("--strategies", action="store_true",
                   help="instead: ppc's program-counter machine against local static batching, same NUTS program")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--numpyro-worker"]:
        return numpyro_worker(argv[1])
    a = p.parse_args(argv)
    if a.strategies:
        return strategy_table(a)
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        print("# JAX's persistent compilation cache is on (JAX_COMPILATION_CACHE_DIR): compile times may be warm")
    rate = matmul_rate(a.dtype)
    print(f"# machine {a.dtype} matmul rate: {rate / 1e9:.1f} GFLOP/s; warmup {a.warmup}, samples {a.samples}; "
          f"ppc and NumPyro in {a.dtype}")
    print(f"{'data':26s} {'chains':>6s} {'system':8s} {'wall s':>8s} {'useful lf/s':>12s} {'min ESS/s':>10s} "
          f"{'util':>6s} {'1st draw s':>10s} {'matmul %':>8s} {'vs numpyro lf/s':>15s} {'ESS/s':>6s}")
    for dname, (X, y) in datasets(a.datasets.split(","), a.dtype).items():
        N, D = X.shape
        for chains in [int(c) for c in a.chains.split(",")]:
            rows = {}
            order = sorted(a.systems.split(","), key=lambda s: s != "numpyro")  # the baseline first
            for system in order:
                if system == "ppc" and chains % a.devices:
                    print(f"{dname:26s} {chains:6d} {system:8s} skipped: {chains} chains do not split over "
                          f"{a.devices} devices")
                    continue
                try:
                    extra = {"devices": a.devices} if system == "ppc" else {}
                    r = SYSTEMS[system](X, y, chains, a.warmup, a.samples, a.seed, **extra)
                except ImportError as e:
                    print(f"{dname:26s} {chains:6d} {system:8s} skipped: {e}")
                    continue
                rows[system] = r
                lf = r["useful"] / r["wall"]
                ess = r["ess"] / r["wall"]
                base = rows.get("numpyro")
                ratio = (f"{lf / (base['useful'] / base['wall']):15.2f} {ess / (base['ess'] / base['wall']):6.2f}"
                         if base and system != "numpyro" else f"{'':15s} {'':6s}")
                share = 100 * lf * 4 * N * D / rate
                print(f"{dname:26s} {chains:6d} {system:8s} {r['wall']:8.1f} {lf:12.0f} {ess:10.2f} {r['util']:6.2f} "
                      f"{r['first']:10.1f} {share:8.2f} {ratio}", flush=True)
            if len(rows) > 1:  # the systems sample one posterior
                means = np.stack([r["mean"] for r in rows.values()])
                print(f"{'':26s} {'':6s} max |posterior mean difference| between systems: "
                      f"{np.abs(means - means[0]).max():.3f}")


if __name__ == "__main__":
    main()
