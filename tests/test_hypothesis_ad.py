"""Derivatives of generated programs (the generators of test_hypothesis): forward mode
against central differences, and reverse mode against forward mode by the transpose
identity <t, vjp(c)> = <jvp(t), c>, which holds exactly, kinks or not."""
import numpy as np
from hypothesis import assume, given, note, settings

import ppc

from test_hypothesis import SETTINGS, control_flow_programs, examples, expression_programs, load_source, progdir  # noqa: F401


def _float_positions(args):
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


def _leaves(tree):
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in _leaves(t)]
    return [tree]


def check_derivatives(src, args, directory):
    note(f"program:\n{src}")
    args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
    note(f"args: {args!r}")
    f = load_source(src, directory).main
    pos = _float_positions(args)
    assume(pos)
    rng = np.random.default_rng(len(src))
    tangents = [rng.normal(size=np.shape(a)) if i in pos else a for i, a in enumerate(args)]
    out, tout = ppc.jvp(f, args, tangents)
    compiled = ppc.compile(f)

    def shifted(eps):
        return compiled(*[a + eps * t if i in pos else a for i, (a, t) in enumerate(zip(args, tangents))])

    # forward mode against central differences, where two step sizes agree and so do the
    # one-sided differences (no kink nearby: at a symmetric one, |x| at 0, both central
    # differences are 0 whatever the slope)
    pairs = [(g, p, m, p2, m2, b) for g, p, m, p2, m2, b in zip(
        _leaves(tout), _leaves(shifted(1e-6)), _leaves(shifted(-1e-6)), _leaves(shifted(1e-4)),
        _leaves(shifted(-1e-4)), _leaves(shifted(0.0))) if g is not None]
    for g, p, m, p2, m2, b in pairs:
        fd = (np.asarray(p) - np.asarray(m)) / 2e-6
        fd2 = (np.asarray(p2) - np.asarray(m2)) / 2e-4
        ahead, behind = (np.asarray(p2) - np.asarray(b)) / 1e-4, (np.asarray(b) - np.asarray(m2)) / 1e-4
        if np.allclose(fd, fd2, rtol=1e-3, atol=1e-5) and np.allclose(ahead, behind, rtol=1e-2, atol=1e-3):
            np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-4, atol=1e-5)
    # reverse mode: the transpose identity
    out, vjp_fn = ppc.vjp(f, *args)
    outs = _leaves(out)
    touts = _leaves(tout)
    cts = [rng.normal(size=np.shape(o)) if t is not None else None for o, t in zip(outs, touts)]
    it = iter(cts)

    def rebuild(tree):
        if isinstance(tree, (tuple, list)):
            return type(tree)(rebuild(t) for t in tree)
        return next(it)
    grads = vjp_fn(rebuild(out))
    lhs = sum(float(np.vdot(np.asarray(grads[i]), tangents[i])) for i in pos if grads[i] is not None)
    rhs = sum(float(np.vdot(np.asarray(t), c)) for t, c in zip(touts, cts) if t is not None)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-8, atol=1e-8)


@settings(max_examples=examples(25), **SETTINGS)
@given(expression_programs("float64"))
def test_expression_derivatives(progdir, prog):  # noqa: F811
    check_derivatives(*prog, progdir)


@settings(max_examples=examples(25), **SETTINGS)
@given(control_flow_programs("float64"))
def test_control_flow_derivatives(progdir, prog):  # noqa: F811
    check_derivatives(*prog, progdir)
