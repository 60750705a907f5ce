"""Local static batching of generated programs (the generators of test_hypothesis): the
batched program on a batch equals the program run on each member alone. Members are the
drawn inputs and perturbations of them, so they take different branches and leave loops
at different iterations."""
import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

import ppc

from programs import assert_tree_close
from test_hypothesis import SETTINGS, control_flow_programs, examples, expression_programs, load_source, progdir  # noqa: F401
from test_hypothesis import CF_HELPER, CFGen, float_arrays


def _member(a):
    if isinstance(a, int):
        return np.int64(a)
    if isinstance(a, float):
        return np.float64(a)
    return np.asarray(a)


def _unstack(tree, i):
    if isinstance(tree, (tuple, list)):
        return type(tree)(_unstack(t, i) for t in tree)
    return np.asarray(tree)[i]


def check_batched(src, members, directory, strategy="local_static"):
    note(f"program:\n{src}")
    members = [[_member(a) for a in args] for args in members]
    batched = [np.stack([m[i] for m in members]) for i in range(len(members[0]))]
    f = load_source(src, directory).main
    out = ppc.autobatch(f, strategy=strategy)(*batched)
    single = ppc.compile(f)
    for i, args in enumerate(members):
        assert_tree_close(_unstack(out, i), single(*args), rtol=1e-9)


def _perturbed(args, rng):
    return [a + rng.normal(size=np.shape(a)) if np.asarray(a).dtype.kind == "f" else a for a in args]


@settings(max_examples=examples(20), **SETTINGS)
@given(control_flow_programs("float64"))
def test_control_flow_batched(progdir, prog):  # noqa: F811
    src, args = prog
    rng = np.random.default_rng(len(src))
    check_batched(src, [args] + [_perturbed(args, rng) for _ in range(2)], progdir)


@settings(max_examples=examples(20), **SETTINGS)
@given(expression_programs("float64"))
def test_expressions_batched(progdir, prog):  # noqa: F811
    src, args = prog
    rng = np.random.default_rng(len(src))
    check_batched(src, [args] + [_perturbed(args, rng) for _ in range(2)], progdir)


SETTLE = '''

def settle(a, s, n):
    return np.tanh(a * 1.5 + s) * 0.5, np.tanh(s + np.sum(a) * 0.25), n
'''


def _update(gen: CFGen) -> str:
    """A state update with enough work (for 3 elements and more) that the program-counter
    pass cuts a branch holding it into blocks of their own."""
    c = gen.const()
    return gen.draw(st.sampled_from([f"a = np.tanh(a * {c} + x) + np.sin(a + s) * {c}",
                                     f"a = np.where(a > s, np.tanh(a) * {c}, np.cos(x + a))",
                                     f"s = np.tanh(s + np.sum(np.sin(a) * x) * {c})"]))


@st.composite
def nested_return_programs(draw):
    """Generated statements, then an `if` holding an `if` that changes the state and
    returns a helper's tuple, with work after the inner `if`, maybe more after the outer
    one. The program counter cuts these into blocks and threads jumps past the joins,
    which carry the joins' values on: the shape whose carried values lost their storage."""
    N = draw(st.integers(3, 5))
    gen = CFGen(draw, N, budget=draw(st.integers(0, 2)))
    for line in ("a = x * 0.5", "s = t + 0.0", "n = 0"):
        gen.emit(1, line)
    while gen.budget > 0:
        gen.statement(1, depth=1)
    gen.emit(1, f"if {gen.pred()}:")
    gen.emit(2, f"if {gen.pred()}:")
    gen.emit(3, _update(gen))
    gen.emit(3, "return settle(a, s, n)")
    for _ in range(draw(st.integers(1, 2))):
        gen.emit(2, _update(gen))
    if draw(st.booleans()):
        gen.emit(1, gen.assignment())
    gen.emit(1, f"return {gen.result()}")
    src = ("import numpy as np\n" + (CF_HELPER if gen.uses_helper else "") + SETTLE
           + "\n\ndef main(x, t, k):\n" + "\n".join(gen.lines) + "\n")
    return src, [draw(float_arrays("float64", (N,))), np.asarray(draw(float_arrays("float64", ()))),
                 draw(st.integers(0, N))]


@settings(max_examples=examples(12), **SETTINGS)
@given(nested_return_programs())
def test_nested_early_returns_program_counter(progdir, prog):  # noqa: F811
    src, args = prog
    rng = np.random.default_rng(len(src))
    check_batched(src, [args] + [_perturbed(args, rng) for _ in range(2)], progdir, "program_counter")


@st.composite
def window_programs(draw):
    """A read of a window at per-member starts and a write of a block at others, in one or
    two dimensions, with starts anywhere from past the front to past the end: what local
    static batching moves into place by per-member shifts."""
    rank = draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(2, 6)) for _ in range(rank))
    win = tuple(draw(st.integers(1, n)) for n in shape)
    blk = tuple(draw(st.integers(1, n)) for n in shape)
    idx = ", ".join(f"i{k}" for k in range(rank))
    jdx = ", ".join(f"j{k}" for k in range(rank))
    src = ("import jax\nimport numpy as np\n\n\n"
           f"def main(x, u, {idx}, {jdx}):\n"
           f"    w = jax.lax.dynamic_slice(x, ({idx},), {win})\n"
           f"    y = jax.lax.dynamic_update_slice(x, u * 2.0 + np.sum(w), ({jdx},))\n"
           "    return w * 3.0, y\n")
    starts = st.integers(-8, 8)
    members = []
    for _ in range(4):
        members.append([draw(float_arrays("float64", shape)), draw(float_arrays("float64", blk))]
                       + [np.int32(draw(starts)) for _ in range(2 * rank)])
    return src, members


@settings(max_examples=examples(10), **SETTINGS)
@given(window_programs(), st.sampled_from(["local_static", "program_counter"]))
def test_windows_at_per_member_starts_batched(progdir, prog, strategy):  # noqa: F811
    """Against JAX itself running each member (the reference for lax's start semantics)."""
    import jax
    src, members = prog
    note(f"program:\n{src}")
    f = load_source(src, progdir).main
    batched = [np.stack([m[i] for m in members]) for i in range(len(members[0]))]
    out = ppc.autobatch(f, strategy=strategy)(*batched)
    reference = jax.jit(f)
    for i, args in enumerate(members):
        assert_tree_close(_unstack(out, i), tuple(np.asarray(o) for o in reference(*args)), rtol=1e-12)
