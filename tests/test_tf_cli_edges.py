"""Edge cases found by testing the TensorFlow backend, ppc-dump and the examples as a user.
Each pins a bug that once crashed (TF rejecting generated code, an internal KeyError) or
printed a traceback; results are checked against NumPy and the JAX backend."""
import numpy as np
import pytest

import ppc
from ppc.cli import main

U8 = np.array([0, 3, 200, 255, 17], np.uint8)


def negate(c):
    return -c


def absolute(c):
    return np.abs(c)


def sign(c):
    return np.sign(c)


def floordiv_by(c, d):
    return c // d, c % d


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64])
@pytest.mark.parametrize("fn", [negate, absolute, sign])
def test_tf_unsigned_unary(fn, dtype):
    """tf.negative, tf.abs and tf.sign take no unsigned integers: TF rejected the generated
    code ("internal error in pass 'tf backend'"). Now they wrap or pass through as in JAX."""
    x = U8.astype(dtype)
    want = np.asarray(ppc.compile(fn)(x))
    got = ppc.compile(fn, backend="tf")(x)
    assert got.dtype == want.dtype == dtype
    np.testing.assert_array_equal(got, want)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got, fn(x))  # NumPy's too (-x wraps)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32])
def test_tf_unsigned_floordiv(dtype):
    """Unsigned `//` on TF negated a tensor to build XLA's by-zero quotient, which TF refuses
    for unsigned dtypes. A quotient by zero is now every bit set, as XLA (and JAX) give it."""
    x = U8.astype(dtype)
    d = np.array([3, 0, 7, 0, 5], dtype)
    want = [np.asarray(r) for r in ppc.compile(floordiv_by)(x, d)]
    got = ppc.compile(floordiv_by, backend="tf")(x, d)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    assert got[0][1] == np.iinfo(dtype).max and got[0][0] == 0 and got[0][2] == 200 // 7


def int_einsum(a, b):
    return np.einsum("ij,jk->ik", a, b), a[0] @ b[:, 0]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint8, np.uint32, np.uint64])
def test_tf_narrow_integer_dot(dtype):
    """einsum/matmul of 8- and 16-bit or unsigned integers: XLA has no Einsum kernel for
    them, so the TF run failed ("No registered 'Einsum' OpKernel for XLA_CPU_JIT"). They are
    now summed in int64 and cast back, wrapping as their own width does (as JAX's)."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 100, size=(3, 4)).astype(dtype)
    b = rng.integers(0, 100, size=(4, 2)).astype(dtype)
    want = [np.asarray(r) for r in ppc.compile(int_einsum)(a, b)]
    got = ppc.compile(int_einsum, backend="tf")(a, b)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == dtype
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(got[0], (a.astype(np.int64) @ b.astype(np.int64)).astype(dtype))


def bool_compare(a, b):
    return a < b, a <= b, a > b, a >= b, max(a[0], b[3]), min(a[0], b[2])


def test_tf_bool_ordering():
    """Ordered comparisons of bools (and builtin max/min of them, which compare) were
    rejected by TF ("DataType bool not in list of allowed values"); NumPy orders
    False < True, and so do JAX and now TF."""
    a = np.array([True, False, True, False])
    b = np.array([True, True, False, False])
    got = ppc.compile(bool_compare, backend="tf")(a, b)
    want = ppc.compile(bool_compare)(a, b)
    for g, w, n in zip(got, want, bool_compare(a, b)):
        assert g.dtype == np.bool_
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(g, n)


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def plus_fib(x, n):
    return x * x + fib(n)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_grad_around_integer_recursion(backend):
    """The gradient of a function calling a recursive function on integers only (nothing
    to differentiate through it) failed with an internal KeyError: the reverse-mode
    program left out the recursive callee."""
    f = ppc.compile(plus_fib, backend=backend)
    assert float(ppc.grad(f)(1.5, 6)) == pytest.approx(3.0)
    value, grad = ppc.value_and_grad(f)(1.5, 7)
    assert float(value) == pytest.approx(1.5 ** 2 + 13) and float(grad) == pytest.approx(3.0)


def test_vjp_and_linearize_around_integer_recursion():
    # (they failed with an internal KeyError, then were refused; their primal runs on the machine)
    out, vjp_fn = ppc.vjp(plus_fib, 1.5, 6)
    assert float(out) == pytest.approx(1.5 ** 2 + 8) and float(vjp_fn(2.0)[0]) == pytest.approx(6.0)
    out, f_lin = ppc.linearize(plus_fib, 1.5, 6)
    assert float(f_lin(0.5)) == pytest.approx(1.5)
    out, tangent = ppc.jvp(plus_fib, (1.5, 6), (1.0, 0))
    assert float(out) == pytest.approx(1.5 ** 2 + 8) and float(tangent) == pytest.approx(3.0)


def test_linear_stage_prints_the_recursive_callee():
    from ppc.ad import as_compiled, stage_text
    text = stage_text(as_compiled(plus_fib), (1.5, 6), "linear")
    assert "call @fib" in text and "func @fib" in text


NOT_FUNCTIONS = """
import numpy as np

def f(x):
    return x * 2.0

number = 3

class Thing:
    pass
"""


@pytest.mark.parametrize("target", ["number", "Thing", "np"])
def test_cli_target_not_a_function(tmp_path, capsys, target):
    """A target naming a number, a class or a module printed ppc.compile's TypeError
    traceback; it is now a usage error (exit code 2) that names the target."""
    (tmp_path / "m.py").write_text(NOT_FUNCTIONS)
    with pytest.raises(SystemExit) as e:
        main([f"{tmp_path / 'm.py'}:{target}", "--args", "f32[3]"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"m.py:{target}" in err and "needs a Python function" in err and "Traceback" not in err


@pytest.mark.parametrize("stage,needs", [("condition", "--observe"), ("partitioned", "--mesh")])
def test_cli_stage_missing_option_is_usage_error(tmp_path, capsys, stage, needs):
    """A stage run without the option it needs is a bad command line: a usage error with
    exit code 2, as other bad arguments get (it was exit code 1, a compile error's)."""
    (tmp_path / "m.py").write_text(NOT_FUNCTIONS)
    with pytest.raises(SystemExit) as e:
        main([f"{tmp_path / 'm.py'}:f", "--args", "f32[3]", "--stage", stage])
    assert e.value.code == 2 and needs in capsys.readouterr().err


def test_cli_grad_stage_around_integer_recursion(capsys):
    """`ppc-dump --stage grad` of a function calling an integer recursion crashed with a
    KeyError traceback (the bug test_grad_around_integer_recursion pins)."""
    assert main([f"{__file__}:plus_fib", "--args", "f64[],int", "--stage", "grad"]) == 0
    out = capsys.readouterr().out
    assert "func @plus_fib_vjp(%x: f64[], %n: i64[]) -> (f64[])" in out and "mul %0, %x" in out  # 2 x


def test_cli_target_file_not_named_py(tmp_path, capsys):
    """A target file not ending in .py (a directory too) crashed with `AttributeError:
    'NoneType' object has no attribute 'loader'`. Any file of Python source now loads; a
    directory is a usage error."""
    (tmp_path / "prog.txt").write_text(NOT_FUNCTIONS)
    assert main([f"{tmp_path / 'prog.txt'}:f", "--args", "f32[3]", "--stage", "tf"]) == 0
    assert "def f(x):" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main([f"{tmp_path}:f", "--args", "f32[3]"])
    assert e.value.code == 2 and "is a directory" in capsys.readouterr().err


def test_cli_target_exits_when_imported(tmp_path, capsys):
    """A target script calling sys.exit at import ended ppc-dump silently with the script's
    exit code; it is a usage error naming the line."""
    (tmp_path / "s.py").write_text("import sys\n\ndef f(x):\n    return x\n\nsys.exit(3)\n")
    with pytest.raises(SystemExit) as e:
        main([f"{tmp_path / 's.py'}:f", "--args", "f32[3]"])
    assert e.value.code == 2 and "s.py:6: importing it raised SystemExit" in capsys.readouterr().err
