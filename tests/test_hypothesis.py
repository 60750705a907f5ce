"""Property-based tests: hypothesis generates whole programs (Python source text) and
inputs for them, and each program must compute, compiled, what it computes run eagerly by
NumPy; the IR of every stage must also verify and survive print -> parse -> print.

Three families of generated programs:

* straight-line elementwise/broadcasting expressions over a few arrays of random
  broadcast-compatible shapes (arithmetic, unary NumPy functions, reductions with random
  axes and keepdims, cumsum/var/prod, maximum/minimum, where, comparisons, conditional
  expressions on traced predicates, transpose, matmul, argmax/argmin, a user helper);
* control flow: random nesting of `if`/`elif`/`else` on data-dependent predicates,
  `for` over static and traced ranges (negative steps too), unrolled `enumerate` loops,
  counter-bounded `while`, `break`, `continue` and early `return`, with a few state
  variables (float array, float scalar, Python int counter) assigned in branches and
  loops, tuple and augmented assignments, and a user function with its own loop;
* indexing with static ints (negative too), slices (any step, out-of-range bounds),
  `None`, `...`, chained indexing and traced integer indices (Python int, np.int32 or
  0-d int64 array).

The compiler reads a function's source with `inspect.getsource`, so each program is
written to a real file and imported before it is compiled.

Numerical care, so that a failure means a compiler bug and not rounding:
* inputs are bounded, and every generated expression carries a bound on its magnitude;
  an expression whose bound grows too large is squashed with `np.tanh` first, so that
  cancellation cannot turn rounding differences into large relative errors;
* constants are dyadic (exact in float32 and float64); a constant only ever meets an
  expression that contains an input array, so nothing is computed on Python scalars alone;
* division is guarded (`e1 / (e2 ** 2 + 1.0)`), logarithms take `np.abs(e) + 1.0`, and
  square roots `np.abs(e) + 1.0` (the square root of a rounded zero is not rounding-stable);
* discontinuous operations only see values that cannot be within rounding of their jump:
  comparisons of computed values get a non-dyadic margin, argmax/argmin only see inputs.
"""
from __future__ import annotations

import importlib.util
import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ppc
from ppc.ir import parse, print_module, verify

from programs import assert_tree_close

# Deterministic and database-free, so that CI runs the same examples every time. For a
# longer local hunt: PPC_HYPOTHESIS_SCALE=10 multiplies the example counts, and
# PPC_HYPOTHESIS_RANDOM=1 draws fresh examples on every run.
SCALE = float(os.environ.get("PPC_HYPOTHESIS_SCALE", "1"))
SETTINGS = dict(
    deadline=None,
    derandomize=os.environ.get("PPC_HYPOTHESIS_RANDOM", "0") != "1",
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


RTOL = {"float64": 1e-9, "float32": 1e-4}
CONSTS = (0.5, 1.5, 2.0, -0.75, 0.25, -1.0, 3.0)   # dyadic: exact in f32 and f64
THRESHOLDS = (0.3, -0.2, 0.7, -1.1, 0.05, 1.3)     # comparison thresholds against strong arrays
CMPS = (">", "<", ">=", "<=")


# ---------------------------------------------------------------------------- harness

_COUNTER = itertools.count()


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return tmp_path_factory.mktemp("hypothesis_programs")


def load_source(src: str, directory):
    """Write `src` to a fresh .py file and import it (ppc reads the function's source)."""
    n = next(_COUNTER)
    name = f"hyp_prog_{os.getpid()}_{n}"
    path = directory / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def round_trip(module):
    verify(module)
    text = print_module(module)
    again = parse(text)
    assert again == module, "parse(print(ir)) differs from the module"
    assert print_module(again) == text, "print(parse(print(ir))) differs from print(ir)"
    verify(again)


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def check_program(src: str, args: list, rtol: float, directory, backend: str = "jax"):
    note(f"program:\n{src}")
    note(f"args: {args!r}")
    mod = load_source(src, directory)
    with np.errstate(all="ignore"):
        want = mod.main(*[_copy(a) for a in args])
    compiled = ppc.compile(mod.main, backend=backend)
    got = compiled(*args)
    for module in (compiled.ir(*args), compiled.canonical_ir(*args)):
        round_trip(module)
    assert_tree_close(got, want, rtol=rtol)


def float_arrays(dtype, shape, bound=2.0):
    width = 64 if dtype == "float64" else 32
    return hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, allow_nan=False,
                                                       allow_subnormal=False, width=width))


def fmt_float(c: float) -> str:
    return repr(float(c))


# ------------------------------------------------------- (1) expression programs

HELPER = '''

def helper(u, v):
    return np.tanh(u) * v + u * 0.5
'''


def _reduce_shape(shape, axis, keepdims):
    return np.sum(np.zeros(shape), axis=axis, keepdims=keepdims).shape


def _broadcasts(shape, target):
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _axis_text(axis):
    return "None" if axis is None else repr(axis)


class ExprGen:
    """Random float/bool expression trees over typed variables, tracking each
    subexpression's shape and a bound on its magnitude."""

    def __init__(self, draw, variables, limit):
        self.draw = draw
        self.vars = list(variables)     # (name, shape, bound)
        self.limit = limit
        self.uses_helper = False

    def squash(self, e):
        code, shape, bound = e
        if bound > self.limit:
            return f"np.tanh({code})", shape, 1.0
        return e

    def leaf(self):
        return self.draw(st.sampled_from(self.vars))

    def combine_shapes(self, a, b):
        """Make b broadcast against a, reducing it to a scalar if need be."""
        try:
            return a, b, np.broadcast_shapes(a[1], b[1])
        except ValueError:
            size = int(np.prod(b[1]))
            b = self.squash((f"np.sum({b[0]})", (), b[2] * size))
            return a, b, np.broadcast_shapes(a[1], b[1])

    def float_expr(self, depth):
        d = self.draw
        if depth <= 0 or d(st.integers(0, 9)) == 9:
            return self.leaf()
        kind = d(st.sampled_from(
            ["binop", "binop", "const", "unary", "unary", "reduce", "maxmin", "where",
             "mask", "div", "helper", "neg", "clip", "ifexp", "cumsum", "stats", "transpose",
             "matmul"]))
        if kind == "binop":
            a, b = self.float_expr(depth - 1), self.float_expr(depth - 1)
            a, b, shape = self.combine_shapes(a, b)
            op = d(st.sampled_from(["+", "-", "*"]))
            bound = a[2] * b[2] if op == "*" else a[2] + b[2]
            return self.squash((f"({a[0]} {op} {b[0]})", shape, bound))
        if kind == "const":
            a = self.float_expr(depth - 1)
            c = d(st.sampled_from(CONSTS))
            op = d(st.sampled_from(["+", "-", "*"]))
            bound = a[2] * abs(c) if op == "*" else a[2] + abs(c)
            if d(st.booleans()):
                code = f"({a[0]} {op} {fmt_float(c)})"
            else:
                code = f"({fmt_float(c)} {op} {a[0]})"
            return self.squash((code, a[1], bound))
        if kind == "neg":
            a = self.float_expr(depth - 1)
            return (f"(-{a[0]})", a[1], a[2])
        if kind == "unary":
            code, shape, bound = self.float_expr(depth - 1)
            fn = d(st.sampled_from(["exp", "tanh", "sin", "cos", "abs", "log", "sqrt", "square",
                                    "pow2", "arctan", "log1p", "pow3"]))
            if fn == "exp":
                if bound > 20.0:
                    code, bound = f"np.tanh({code})", 1.0
                return self.squash((f"np.exp({code})", shape, float(np.exp(bound))))
            if fn in ("tanh", "sin", "cos"):
                return (f"np.{fn}({code})", shape, 1.0)
            if fn == "arctan":
                return (f"np.arctan({code})", shape, 2.0)
            if fn == "log1p":
                return (f"np.log1p(np.abs({code}))", shape, float(np.log1p(bound)))
            if fn == "pow3":
                return self.squash((f"({code} ** 3)", shape, bound ** 3))
            if fn == "abs":
                return (f"np.abs({code})", shape, bound)
            if fn == "log":
                return (f"np.log(np.abs({code}) + 1.0)", shape, float(np.log(bound + 1.0)))
            if fn == "sqrt":
                return (f"np.sqrt(np.abs({code}) + 1.0)", shape, float(np.sqrt(bound + 1.0)))
            if fn == "square":
                return self.squash((f"np.square({code})", shape, bound * bound))
            return self.squash((f"({code} ** 2)", shape, bound * bound))
        if kind == "reduce":
            code, shape, bound = self.float_expr(depth - 1)
            r = len(shape)
            axes = [None] + list(range(-r, r))
            if r >= 2:
                axes += [(0, r - 1), (-1, 0)]
            axis = d(st.sampled_from(axes))
            keepdims = d(st.booleans())
            fn = d(st.sampled_from(["sum", "mean", "max", "min", "sum_method", "mean_method"]))
            out_shape = _reduce_shape(shape, axis, keepdims)
            kw = f"axis={_axis_text(axis)}" + (", keepdims=True" if keepdims else "")
            if fn.endswith("_method"):
                text = f"{code}.{fn[:-7]}({kw})"
            else:
                text = f"np.{fn}({code}, {kw})"
            size = int(np.prod(shape)) // max(1, int(np.prod(out_shape)))
            return self.squash((text, out_shape, bound * size if fn.startswith("sum") else bound))
        if kind == "maxmin":
            a, b = self.float_expr(depth - 1), self.float_expr(depth - 1)
            a, b, shape = self.combine_shapes(a, b)
            fn = d(st.sampled_from(["maximum", "minimum"]))
            return (f"np.{fn}({a[0]}, {b[0]})", shape, max(a[2], b[2]))
        if kind == "where":
            cond = self.bool_expr(depth - 1)
            a, b = self.float_expr(depth - 1), self.float_expr(depth - 1)
            a, b, shape = self.combine_shapes(a, b)
            try:
                shape = np.broadcast_shapes(shape, cond[1])
            except ValueError:
                cond = (f"np.any({cond[0]})", ())
            if d(st.booleans()):
                c = d(st.sampled_from(CONSTS))
                return (f"np.where({cond[0]}, {a[0]}, {fmt_float(c)})",
                        np.broadcast_shapes(a[1], cond[1]), max(a[2], abs(c)))
            return (f"np.where({cond[0]}, {a[0]}, {b[0]})", shape, max(a[2], b[2]))
        if kind == "mask":   # bool * float
            cond = self.bool_expr(depth - 1)
            a = self.float_expr(depth - 1)
            try:
                shape = np.broadcast_shapes(a[1], cond[1])
            except ValueError:
                cond, shape = (f"np.all({cond[0]})", ()), a[1]
            return (f"({cond[0]} * {a[0]})", shape, a[2])
        if kind == "div":
            a, b = self.float_expr(depth - 1), self.float_expr(depth - 1)
            a, b, shape = self.combine_shapes(a, b)
            return (f"({a[0]} / ({b[0]} ** 2 + 1.0))", shape, a[2])
        if kind == "clip":
            a = self.float_expr(depth - 1)
            lo = d(st.sampled_from((-1.5, -0.5, 0.0)))
            hi = d(st.sampled_from((0.25, 1.0, 2.0)))
            return (f"np.clip({a[0]}, {fmt_float(lo)}, {fmt_float(hi)})", a[1], 2.0)
        if kind == "ifexp":   # a conditional expression on a traced scalar predicate
            a, b = self.float_expr(depth - 1), self.float_expr(depth - 1)
            if a[1] != b[1]:   # both arms must have the same shape
                if _broadcasts(b[1], a[1]):
                    b = (f"np.broadcast_to({b[0]}, {a[1]!r})", a[1], b[2])
                else:
                    b = (f"(-{a[0]})", a[1], a[2])
            p = self.float_expr(depth - 1)
            op = d(st.sampled_from(CMPS))
            thr = fmt_float(d(st.sampled_from(THRESHOLDS)))
            return (f"({a[0]} if np.sum({p[0]}) {op} {thr} else {b[0]})", a[1], max(a[2], b[2]))
        if kind == "cumsum":
            code, shape, bound = self.float_expr(depth - 1)
            axis = d(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
            if axis is None and len(shape) == 0:
                return (code, shape, bound)
            out_shape = np.cumsum(np.zeros(shape), axis=axis).shape
            return self.squash((f"np.cumsum({code}, axis={_axis_text(axis)})", out_shape,
                                bound * max(1, int(np.prod(shape)))))
        if kind == "stats":   # var, std and prod with an axis
            code, shape, bound = self.float_expr(depth - 1)
            axis = d(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
            fn = d(st.sampled_from(["var", "std", "prod"]))
            out_shape = _reduce_shape(shape, axis, False)
            size = int(np.prod(shape)) // max(1, int(np.prod(out_shape)))
            bound = {"var": bound * bound, "std": bound, "prod": bound ** size}[fn]
            if fn == "std":   # the square root of a rounded zero variance is not stable
                return (f"np.sqrt(np.var({code}, axis={_axis_text(axis)}) + 1.0)", out_shape,
                        bound + 1.0)
            return self.squash((f"np.{fn}({code}, axis={_axis_text(axis)})", out_shape, bound))
        if kind == "transpose":
            code, shape, bound = self.float_expr(depth - 1)
            text = d(st.sampled_from([f"{code}.T", f"np.transpose({code})"]))
            return (text, tuple(reversed(shape)), bound)
        if kind == "matmul":
            a, b = self.float_expr(depth - 1), self.float_expr(depth - 1)
            try:
                out_shape = np.matmul(np.zeros(a[1]), np.zeros(b[1])).shape
            except ValueError:
                # no matching shapes: fall back to a contraction with itself
                if len(a[1]) == 0:
                    return a
                b = a if len(a[1]) == 1 else (f"np.swapaxes({a[0]}, -1, -2)",
                                              a[1][:-2] + (a[1][-1], a[1][-2]), a[2])
                out_shape = np.matmul(np.zeros(a[1]), np.zeros(b[1])).shape
            k = a[1][-1]
            op = d(st.sampled_from(["@", "matmul"]))
            text = f"({a[0]} @ {b[0]})" if op == "@" else f"np.matmul({a[0]}, {b[0]})"
            return self.squash((text, out_shape, a[2] * b[2] * k))
        # helper: a user function call, specialized per argument shapes
        a, b = self.float_expr(depth - 1), self.float_expr(depth - 1)
        a, b, shape = self.combine_shapes(a, b)
        self.uses_helper = True
        return self.squash((f"helper({a[0]}, {b[0]})", shape, b[2] + a[2] * 0.5))

    def bool_expr(self, depth):
        d = self.draw
        kind = d(st.sampled_from(["cmp_const", "cmp", "and_or"])) if depth > 0 else "cmp_const"
        if kind == "and_or":
            a, b = self.bool_expr(depth - 1), self.bool_expr(depth - 1)
            try:
                shape = np.broadcast_shapes(a[1], b[1])
            except ValueError:
                b, shape = (f"np.any({b[0]})", ()), a[1]
            op = d(st.sampled_from(["&", "|"]))
            return (f"({a[0]} {op} {b[0]})", shape)
        a = self.float_expr(max(depth - 1, 0))
        op = d(st.sampled_from(CMPS))
        if kind == "cmp_const":
            return (f"({a[0]} {op} {fmt_float(d(st.sampled_from(THRESHOLDS)))})", a[1])
        b = self.float_expr(max(depth - 1, 0))
        a, b, shape = self.combine_shapes(a, b)
        if a[0].isidentifier() and b[0].isidentifier():
            return (f"({a[0]} {op} {b[0]})", shape)
        # computed values are compared with a margin: two different expressions can be
        # within rounding of each other (tanh saturating near 1, say), and XLA and NumPy
        # round differently
        return (f"({a[0]} {op} {b[0]} + {fmt_float(d(st.sampled_from(THRESHOLDS)))})", shape)


@st.composite
def broadcast_shapes(draw, base):
    """A shape that broadcasts to `base`: a suffix of it with some sizes set to 1."""
    r = draw(st.integers(0, len(base)))
    suffix = base[len(base) - r:]
    return tuple(1 if draw(st.integers(0, 3)) == 0 else n for n in suffix)


@st.composite
def expression_programs(draw, dtype):
    base = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    nvars = draw(st.integers(1, 3))
    names = ["x", "y", "z"][:nvars]
    shapes = [base] + [draw(broadcast_shapes(base)) for _ in range(nvars - 1)]
    shapes = draw(st.permutations(shapes))
    limit = 1e6 if dtype == "float64" else 1e2
    gen = ExprGen(draw, [(n, s, 2.0) for n, s in zip(names, shapes)], limit)
    body, results = [], []
    for k in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 7)) == 0:   # an integer result
            # argmax/argmin jump at (near-)ties, so they only see exactly computed values:
            # with tanh or a matmul beneath, last-bit differences between XLA and NumPy
            # (saturated tanh values in f32, say) legitimately pick a different index
            name, shape, _ = draw(st.sampled_from(gen.vars[:nvars]))
            if shape:
                fn = draw(st.sampled_from(["argmax", "argmin"]))
                arg = draw(st.sampled_from([name, f"-{name}", f"np.abs({name})", f"{name} * 2.0"]))
                axis = draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
                body.append(f"    t{k} = np.{fn}({arg}, axis={_axis_text(axis)})")
                results.append(f"t{k}")
                continue
        code, shape, bound = gen.float_expr(draw(st.integers(1, 4)))
        body.append(f"    t{k} = {code}")
        gen.vars.append((f"t{k}", shape, bound))
        results.append(f"t{k}")
    ret = draw(st.lists(st.sampled_from(results), min_size=1, max_size=2, unique=True))
    trailing_comma = len(ret) == 1 and draw(st.booleans())   # a 1-tuple result
    body.append(f"    return {', '.join(ret)}" + ("," if trailing_comma else ""))
    src = "import numpy as np\n" + (HELPER if gen.uses_helper else "") + \
        f"\n\ndef main({', '.join(names)}):\n" + "\n".join(body) + "\n"
    args = [draw(float_arrays(dtype, s)) for s in shapes]
    return src, args


@settings(max_examples=examples(60), **SETTINGS)
@given(expression_programs("float64"))
def test_expressions_f64(progdir, prog):
    src, args = prog
    check_program(src, args, RTOL["float64"], progdir)


@pytest.mark.parametrize("backend", ["jax", "tf"])
@settings(max_examples=examples(20), **SETTINGS)
@given(expression_programs("float32"))
def test_expressions_f32(progdir, backend, prog):
    src, args = prog
    check_program(src, args, RTOL["float32"], progdir, backend)


# ------------------------------------------------------ (2) control-flow programs

CF_HELPER = '''

def first_above(v, c):
    for i in range(v.shape[0]):
        if v[i] > c:
            return i
    return -1
'''


class CFGen:
    """Random structured control flow over the state (a: f[N], s: f[], n: int) of a
    function main(x: f[N], t: f[], k: int in [0, N]). Every update keeps the magnitudes
    bounded (coefficients on the state at most 1.5, other terms bounded), so loops cannot
    blow values up."""

    def __init__(self, draw, n, budget):
        self.draw = draw
        self.N = n
        self.budget = budget      # statements left to generate
        self.lines = []
        self.loops = []           # enclosing loops: ("for"|"enum", var) | ("while", counter)
        self.fresh = itertools.count()
        self.uses_helper = False

    def emit(self, indent, text):
        self.lines.append("    " * indent + text)

    # -- small pieces
    def index(self):
        """An integer index into x (length N), valid in the current scope."""
        d, N = self.draw, self.N
        options = [str(d(st.integers(-N, N - 1))), "k - 1", f"n % {N}", f"(k + n) % {N}"]
        for kind, var in self.loops:
            if kind in ("for", "enum"):
                options += [var, f"{N - 1} - {var}", f"-1 - {var}", f"{var} - 1"]
            else:
                options += [f"{var} - 1"]
        return d(st.sampled_from(options))

    def const(self):
        return fmt_float(self.draw(st.sampled_from((0.5, -0.5, 0.75, 1.5, 0.25, -1.0))))

    def pred(self, depth=1):
        d = self.draw
        kinds = (["sum", "s", "xi", "a0", "t", "n", "max", "and", "not"] if depth > 0
                 else ["sum", "s", "xi", "t", "n"])
        if any(kind == "enum" for kind, _ in self.loops):
            kinds.append("v")
        kind = d(st.sampled_from(kinds))
        op = d(st.sampled_from(CMPS))
        thr = fmt_float(d(st.sampled_from(THRESHOLDS)))
        if kind == "v":
            return f"v {op} {thr}"
        if kind == "sum":
            return f"np.sum(a) {op} {thr}"
        if kind == "s":
            return f"s {op} {thr}"
        if kind == "xi":
            return f"x[{self.index()}] {op} {thr}"
        if kind == "a0":
            return f"a[{self.index()}] {op} s"
        if kind == "t":
            return f"t {op} {thr}"
        if kind == "n":
            return d(st.sampled_from([f"n {op} {d(st.integers(0, 3))}", "n % 2 == 0",
                                      f"n != {d(st.integers(-1, 2))}"]))
        if kind == "max":
            return f"np.max(a) - s {op} {thr}"
        if kind == "and":
            return f"({self.pred(0)}) {d(st.sampled_from(['and', 'or']))} ({self.pred(0)})"
        return f"not ({self.pred(0)})"

    def assignment(self):
        d = self.draw
        target = d(st.sampled_from(["a", "s", "a", "s", "n", "pair", "call", "ifexp", "aug", "temp"]
                                   + (["v"] if any(k == "enum" for k, _ in self.loops) else [])))
        if target == "v":      # the element of an enumerate loop
            return f"s = s * {self.const()} + v"
        if target == "ifexp":  # conditional expressions on traced predicates
            return d(st.sampled_from([
                f"s = s * {self.const()} if {self.pred(0)} else s + x[{self.index()}]",
                f"a = a * {self.const()} if {self.pred(0)} else np.tanh(a)",
            ]))
        if target == "temp":   # a variable local to this branch or loop body
            return d(st.sampled_from([f"u = np.tanh(a) * s; a = a * {self.const()} + u",
                                      f"u = x[{self.index()}] - s; s = s + u * {self.const()}"]))
        if target == "aug":
            return d(st.sampled_from([f"a *= {self.const()}", f"a += x * {self.const()}",
                                      "s -= np.mean(a)", f"s *= {self.const()}"]))
        if target == "pair":   # both right-hand sides are evaluated before either is bound
            return d(st.sampled_from(["a, s = a * 0.5 + s, s - np.mean(a)",
                                      "s, a = np.tanh(np.sum(a * x)), np.tanh(a + s)"]))
        if target == "call":   # a user function with a loop and an early return
            self.uses_helper = True
            return f"n = n + first_above(a, s + {fmt_float(d(st.sampled_from(THRESHOLDS)))})"
        c = self.const()
        if target == "a":
            rhs = d(st.sampled_from([
                f"a * {c} + x",
                "a + x * np.tanh(s)",
                f"np.tanh(a) + x[{self.index()}]",
                f"np.where(a > s, a * {c}, x)",
                f"np.maximum(a, x) * {c}",
                "a - np.mean(a) * 0.5",
                f"a * {c} + np.sin(x + t)",
                f"a + (x > {fmt_float(d(st.sampled_from(THRESHOLDS)))}) * {c}",
            ]))
            return f"a = {rhs}"
        if target == "s":
            rhs = d(st.sampled_from([
                f"s * {c} + x[{self.index()}]",
                f"s + np.tanh(np.sum(a)) * {c}",
                "np.tanh(s) + t",
                f"s * {c} - np.max(a)",
                f"s + a[{self.index()}] * {c}",
                f"np.minimum(s, x[{self.index()}])",
                f"s * {c} + n",
            ]))
            return d(st.sampled_from([f"s = {rhs}", f"s += x[{self.index()}] * {c}"]))
        return d(st.sampled_from(["n += 1", "n = n + 2", "n -= 1", "n = (n * 3 + k) % 4 - 2",
                                  "n = n // 2", "n = -n // 3 + k"]))

    def range_text(self):
        d, N = self.draw, self.N
        return d(st.sampled_from([
            str(d(st.integers(1, min(N, 4)))),
            "k",
            "0",
            "1, k",
            f"k, {N}",
            f"{N - 1}, k - 1, -1",
            f"0, {N}, 2",
            f"k - 1, -1, -1",
        ]))

    # -- statements
    def statement(self, indent, depth):
        d = self.draw
        self.budget -= 1
        kinds = (["for", "if", "assign", "while", "assign", "enum"] if depth > 0
                 else ["assign", "assign"])
        if self.loops:
            kinds += ["break", "continue"]
        kinds += ["return"]
        kind = d(st.sampled_from(kinds))
        if kind == "assign":
            self.emit(indent, self.assignment())
        elif kind == "if":
            self.emit(indent, f"if {self.pred()}:")
            self.body(indent + 1, depth - 1)
            for _ in range(d(st.integers(0, 1))):
                self.emit(indent, f"elif {self.pred()}:")
                self.body(indent + 1, depth - 1)
            if d(st.booleans()):
                self.emit(indent, "else:")
                self.body(indent + 1, depth - 1)
        elif kind == "for":
            var = f"i{next(self.fresh)}"
            self.emit(indent, f"for {var} in range({self.range_text()}):")
            self.loops.append(("for", var))
            self.body(indent + 1, depth - 1)
            self.loops.pop()
        elif kind == "enum":   # unrolled at compile time; v is the element x[i]
            if any(k == "enum" for k, _ in self.loops):
                self.emit(indent, self.assignment())
                return False
            self.emit(indent, "for i, v in enumerate(x):")
            self.loops.append(("enum", "i"))
            self.body(indent + 1, depth - 1)
            self.loops.pop()
        elif kind == "while":
            w = f"w{next(self.fresh)}"
            bound = d(st.sampled_from([str(d(st.integers(1, min(self.N, 4)))), "k", "0"]))
            self.emit(indent, f"{w} = 0")
            form = d(st.sampled_from(["and", "plain", "true"]))
            if form == "and":
                self.emit(indent, f"while {w} < {bound} and {self.pred(0)}:")
            elif form == "plain":
                self.emit(indent, f"while {w} < {bound}:")
            else:
                self.emit(indent, "while True:")
                self.emit(indent + 1, f"if {w} >= {bound}:")
                self.emit(indent + 2, "break")
            self.emit(indent + 1, f"{w} += 1")
            self.loops.append(("while", w))
            self.body(indent + 1, depth - 1)
            self.loops.pop()
        elif kind in ("break", "continue"):
            self.emit(indent, f"if {self.pred(0)}:")
            self.emit(indent + 1, kind)
        else:
            self.emit(indent, f"if {self.pred()}:")
            self.emit(indent + 1, f"return {d(st.sampled_from([self.result(), '-a, s + 1.0, n']))}")
        return False

    def body(self, indent, depth):
        before = len(self.lines)
        for _ in range(self.draw(st.integers(1, 2))):
            if self.budget <= 0:
                break
            self.statement(indent, depth)
        if len(self.lines) == before:
            self.emit(indent, self.assignment())

    def result(self):
        return "a, s, n"


@st.composite
def control_flow_programs(draw, dtype):
    N = draw(st.integers(2, 5))
    gen = CFGen(draw, N, budget=draw(st.integers(3, 9)))
    # (`a = x` would alias x, and NumPy's in-place `a *= c` would then change x as well;
    # compiled code has value semantics, like JAX.)
    init_a = draw(st.sampled_from(["x * 0.5", "-x", "x + 0.0", "np.ones_like(x) * t",
                                   "np.zeros_like(x)"]))
    init_s = draw(st.sampled_from(["t + 0.0", "t * 0.5", "np.sum(x) * 0.25", "0.0"]))
    gen.emit(1, f"a = {init_a}")
    gen.emit(1, f"s = {init_s}")
    gen.emit(1, "n = 0")
    while gen.budget > 0:
        gen.statement(1, depth=2)
    gen.emit(1, f"return {gen.result()}")
    src = "import numpy as np\n" + (CF_HELPER if gen.uses_helper else "") + \
        "\n\ndef main(x, t, k):\n" + "\n".join(gen.lines) + "\n"
    x = draw(float_arrays(dtype, (N,)))
    t = np.asarray(draw(float_arrays(dtype, ())))
    k = draw(st.integers(0, N))
    k = np.int32(k) if draw(st.booleans()) else k
    return src, [x, t, k]


@settings(max_examples=examples(60), **SETTINGS)
@given(control_flow_programs("float64"))
def test_control_flow_f64(progdir, prog):
    src, args = prog
    check_program(src, args, RTOL["float64"], progdir)


@pytest.mark.parametrize("backend", ["jax", "tf"])
@settings(max_examples=examples(20), **SETTINGS)
@given(control_flow_programs("float32"))
def test_control_flow_f32(progdir, backend, prog):
    src, args = prog
    check_program(src, args, RTOL["float32"], progdir, backend)


# ---------------------------------------------------------- (3) indexing programs

@st.composite
def index_text(draw, shape, ivals):
    """The text of one index into an array of `shape`, using the traced ints i and j
    (whose values are in `ivals`) only where the index is in bounds."""
    rank = len(shape)
    m = draw(st.integers(0, rank))
    ellipsis = draw(st.integers(0, 3)) == 0
    if ellipsis:
        p = draw(st.integers(0, m))
        axes = list(range(p)) + list(range(rank - (m - p), rank))
    else:
        p, axes = None, list(range(m))
    comps = []
    for ax in axes:
        n = shape[ax]
        kind = draw(st.sampled_from(["traced", "slice", "int", "traced", "slice"]))
        if n == 0:     # an empty axis (from an earlier slice) only takes slices
            kind = "slice"
        if kind == "traced" and ivals:
            var = draw(st.sampled_from(sorted(ivals)))
            v = ivals[var]
            offsets = [c for c in range(-2, 3) if -n <= v + c <= n - 1]
            if offsets:
                c = draw(st.sampled_from(offsets))
                comps.append(var if c == 0 else f"{var} + {c}" if c > 0 else f"{var} - {-c}")
                continue
            kind = "int"
        if kind in ("int", "traced"):
            comps.append(str(draw(st.integers(-n, n - 1))))
        else:
            bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            start, stop = draw(bound), draw(bound)
            step = draw(st.sampled_from([None, None, 1, 2, 3, -1, -2]))
            text = ("" if start is None else str(start)) + ":" + ("" if stop is None else str(stop))
            if step is not None:
                text += f":{step}"
            comps.append(text)
    if ellipsis:
        comps.insert(p, "...")
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        comps.insert(draw(st.integers(0, len(comps))), "None")
    if not comps:
        if not rank:
            comps = ["None"]
        else:
            comps = [str(draw(st.integers(-shape[0], shape[0] - 1))) if shape[0] else ":"]
    if len(comps) == 1 and draw(st.booleans()):
        return comps[0]
    return ", ".join(comps) + ("," if len(comps) == 1 else "")


@st.composite
def indexing_programs(draw, dtype):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    ivals = {"i": draw(st.integers(-2, 3)), "j": draw(st.integers(-1, 2))}
    body, results = [], []
    for k in range(draw(st.integers(1, 3))):
        base, base_shape = draw(st.sampled_from([
            ("x", shape), ("x", shape), ("(x + y)", shape), ("np.tanh(x)", shape),
            ("x.T", tuple(reversed(shape)))]))
        idx = draw(index_text(base_shape, ivals))
        expr = f"{base}[{idx}]"
        value = eval(f"_x[{idx}]", {"_x": np.zeros(base_shape), **ivals})
        if np.ndim(value) >= 1 and draw(st.integers(0, 2)) == 0:    # chained index
            sub = draw(index_text(np.shape(value), ivals))
            expr = f"{expr}[{sub}]"
        tail = draw(st.sampled_from(["", " * 2.0", " + y", "sum"]))
        if tail == "sum":
            expr = f"np.sum({expr})"
        elif tail == " + y":
            expr = f"{expr} + y"
        else:
            expr += tail
        body.append(f"    r{k} = {expr}")
        results.append(f"r{k}")
    body.append(f"    return {', '.join(results)}")
    src = "import numpy as np\n\n\ndef main(x, y, i, j):\n" + "\n".join(body) + "\n"
    x = draw(float_arrays(dtype, shape))
    y = np.asarray(draw(float_arrays(dtype, ())))
    # the traced indices as Python ints, NumPy int32 scalars or 0-d int64 arrays
    cast = draw(st.sampled_from([int, np.int32, lambda v: np.asarray(v, dtype=np.int64)]))
    return src, [x, y, cast(ivals["i"]), cast(ivals["j"])]


@settings(max_examples=examples(50), **SETTINGS)
@given(indexing_programs("float64"))
def test_indexing(progdir, prog):
    src, args = prog
    check_program(src, args, RTOL["float64"], progdir)
