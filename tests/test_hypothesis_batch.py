"""Local static batching of generated programs (the generators of test_hypothesis): the
batched program on a batch equals the program run on each member alone. Members are the
drawn inputs and perturbations of them, so they take different branches and leave loops
at different iterations."""
import numpy as np
from hypothesis import given, note, settings

import ppc

from programs import assert_tree_close
from test_hypothesis import SETTINGS, control_flow_programs, examples, expression_programs, load_source, progdir  # noqa: F401


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


def check_batched(src, members, directory):
    note(f"program:\n{src}")
    members = [[_member(a) for a in args] for args in members]
    batched = [np.stack([m[i] for m in members]) for i in range(len(members[0]))]
    f = load_source(src, directory).main
    out = ppc.autobatch(f, strategy="local_static")(*batched)
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
