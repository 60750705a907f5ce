"""Golden files: the IR after each stage and the generated source, for every program in
tests/golden/programs. Regenerate with `pytest tests/test_golden.py --update-golden`
and read the diff."""
import pytest

import ppc
from ppc.cli import STAGES
from ppc.ir import parse, print_module, verify

from programs import PROGRAMS, ROOT, example_args, load

BASE_STAGES = ("canonical", "ir", "jax", "tf")


# Differentiated programs: their JVP, linear and transposed programs, and the gradient
AD_STAGES = ("jvp", "linear", "transpose", "grad")
AD_PROGRAMS = ["arith_scalar", "if_elif_else", "while_newton", "for_static", "for_dynamic", "break_continue",
               "early_return", "logistic_regression", "mlp", "leapfrog", "nested_loops", "elementwise",
               "matmul", "special", "recursion_tree", "recursion_chain"]
# Models: the sampling program and its log-joint, sampler and unconstrained density
MODEL_STAGES = ("ir", "condition", "log_joint", "sample", "unconstrained")
MODELS = sorted(p.stem for p in (ROOT / "models").glob("*.py"))
OBSERVED = {n: "OBSERVE =" in (ROOT / "models" / f"{n}.py").read_text() for n in MODELS}  # (else no condition stage)
# Local static batching (a batch of 4 over every array argument)
BATCHED_PROGRAMS = ["if_elif_else", "while_newton", "for_dynamic", "break_continue", "early_return", "indexing",
                    "matmul", "logistic_regression", "recursion_fib", "recursion_tree"]
# The program-counter machine's blocks and storage (a batch of 4 over every array argument)
PC_PROGRAMS = ["recursion_fib", "recursion_mutual", "recursion_tree", "while_newton", "early_return"]
# Partitioned (per-device) programs: label -> (program, gradient argnum or None, mesh, tactics)
PARTITIONED = {
    "logistic_regression.grad-batch": ("logistic_regression", 0, "batch=4", ["tile:X:0:batch", "tile:y:0:batch"]),
    "mlp.batch-model": ("mlp", None, "batch=2,model=2", ["tile:x:0:batch", "tile:labels:0:batch", "tile:w1:1:model"]),
    "mlp.grad-zero": ("mlp", 1, "batch=4", ["tile:x:0:batch", "tile:labels:0:batch", "tile:w1:1:batch"]),
    "matmul.batch-model": ("matmul", None, "batch=2,model=2", ["tile:a:1:model", "tile:batch:0:batch"]),
    "elementwise.batch": ("elementwise", None, "batch=2", ["replicate:y", "tile:x:0:batch"]),
}
CASES = [(n, s) for n in PROGRAMS for s in BASE_STAGES] + [(n, s) for n in AD_PROGRAMS for s in AD_STAGES] + \
    [(f"models/{n}", s) for n in MODELS for s in MODEL_STAGES if s != "condition" or OBSERVED[n]] + [(n, "batched") for n in BATCHED_PROGRAMS] + \
    [(n, "pc") for n in PC_PROGRAMS]


@pytest.mark.parametrize("name,stage", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_golden(name, stage, request):
    mod = load(name)
    compiled = ppc.compile(mod.main)
    text = STAGES[stage](compiled, example_args(mod), observe=getattr(mod, "OBSERVE", ()))
    path = ROOT / "expected" / f"{name}.{stage}.txt"
    if request.config.getoption("--update-golden"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run pytest --update-golden"
    assert text == path.read_text(), f"{path} differs; rerun with --update-golden and review the diff"


@pytest.mark.parametrize("label", PARTITIONED)
def test_golden_partitioned(label, request):
    from ppc.cli import parse_mesh, parse_tactic
    name, argnum, mesh, tactics = PARTITIONED[label]
    mod = load(name)
    compiled = ppc.compile(mod.main)
    if argnum is not None:
        compiled = ppc.grad(compiled, argnums=argnum)
    text = STAGES["partitioned"](compiled, example_args(mod), mesh=parse_mesh(mesh),
                                 tactics=[parse_tactic(t) for t in tactics])
    path = ROOT / "expected" / f"{label}.partitioned.txt"
    if request.config.getoption("--update-golden"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run pytest --update-golden"
    assert text == path.read_text(), f"{path} differs; rerun with --update-golden and review the diff"
    body = text[text.index("func @"):text.index("// simulated")]
    assert print_module(parse(body)) == body  # the per-device program round-trips too


@pytest.mark.parametrize("name", PROGRAMS)
def test_round_trip_and_verify(name):
    mod = load(name)
    compiled = ppc.compile(mod.main)
    args = example_args(mod)
    for module in (compiled.ir(*args), compiled.canonical_ir(*args)):
        verify(module)
        text = print_module(module)
        again = parse(text)
        assert again == module
        assert print_module(again) == text
        verify(again)


@pytest.mark.parametrize("name", ["recursion_fib", "recursion_tree"])
def test_host_batched_round_trip(name):
    """Local static batching of recursion: `host=true` control flow prints and parses back."""
    text = STAGES["batched"](ppc.compile(load(name).main), example_args(load(name)))
    module = parse(text)
    verify(module)
    assert "{host=true}" in text and print_module(module) == text


def test_enough_programs():
    assert len(PROGRAMS) >= 25 and len(AD_PROGRAMS) >= 10


def test_linear_programs_hold_only_linear_ops():
    """In every golden linear program, each op reading a tangent is linear in it (has a
    transpose rule); the rest is bookkeeping on residuals (counters, stack reads)."""
    from ppc.ir import REGISTRY, parse, walk_ops
    from ppc.passes.ad.algebra import dependents
    for name in AD_PROGRAMS:
        text = (ROOT / "expected" / f"{name}.linear.txt").read_text()
        lin = parse(text).functions["main_lin"]
        n_tangent = sum(1 for p in lin.params if p.hint and p.hint.endswith("_dot"))
        linear = dependents(lin.body, set(lin.params[len(lin.params) - n_tangent:]))
        for op in walk_ops(lin.body):
            if any(v in linear for v in op.operands) and op.prim not in ("yield", "return"):
                assert REGISTRY[op.prim].transpose is not None, f"{name}: non-linear '{op.prim}' on a tangent"
