"""The public face: @ppc.compile, caching, specialization, arguments and results."""
import jax
import numpy as np
import pytest

import ppc


@ppc.compile
def scale(x, factor):
    return x * factor


def test_decorator_forms():
    x = np.arange(3.0)
    assert np.allclose(scale(x, 2), x * 2)
    assert np.allclose(ppc.compile(backend="jax")(lambda_free)(x), x + 1)
    with pytest.raises(ValueError, match="unknown backend"):
        ppc.compile(lambda_free, backend="nope")


def lambda_free(x):
    return x + 1


def test_cache_per_signature():
    c = ppc.compile(lambda_free)
    a = c.specialize(np.ones(3, np.float32))
    assert c.specialize(np.zeros(3, np.float32)) is a
    assert c.specialize(np.ones(4, np.float32)) is not a
    assert c.specialize(np.ones(3, np.float64)) is not a


def test_python_scalars_are_weak():
    x32 = np.ones(3, np.float32)
    out = scale(x32, 2.5)
    assert out.dtype == np.float32
    assert scale(np.arange(3), 2).dtype == np.int64


def test_float64_stays_float64():
    out = scale(np.ones(2), np.float64(1) / 3)
    assert out.dtype == np.float64 and out[0] == 1 / 3


def pair(t, s):
    a, b = t
    return a * s + b, (a, b)


def test_tuple_arguments_and_results():
    c = ppc.compile(pair)
    t = (np.ones(2, np.float32), np.arange(2, dtype=np.float32))
    out, (a, b) = c(t, 3.0)
    assert np.allclose(out, [3, 4]) and np.allclose(b, [0, 1])
    text = str(c.ir(t, 3.0))
    assert "%t: tuple<f32[2], f32[2]>" in text and "tuple_get %t {index=0}" in text


def power(x, n):
    out = x
    for _ in range(n - 1):
        out = out * x
    return out


def test_static_argnums():
    c = ppc.compile(power, static_argnums=1)
    x = np.array([2.0])
    assert c(x, 3)[0] == 8.0
    assert "trip_count=2" in str(c.ir(x, 3))
    dyn = ppc.compile(power)
    assert dyn(x, 3)[0] == 8.0
    assert "trip_count" not in str(dyn.ir(x, 3))


def with_defaults(x, k=2.0, *, shift=0.0):
    return x * k + shift


def test_keyword_arguments():
    c = ppc.compile(with_defaults)
    x = np.ones(2)
    assert np.allclose(c(x), 2.0)
    assert np.allclose(c(x, k=3.0), 3.0)
    assert np.allclose(c(x, shift=1.0), 3.0)
    with pytest.raises(TypeError, match="with_defaults\\(\\) got an unexpected keyword argument 'z'"):
        c(x, z=1.0)  # (as Python says it, not bind's report of whatever else is missing)


def test_jax_arrays_as_inputs():
    x = jax.numpy.ones(3, dtype=jax.numpy.float32)
    assert np.allclose(scale(x, 2.0), 2.0)


def test_compiled_function_called_from_compiled_code():
    @ppc.compile
    def outer(x):
        return scale(x, 3.0) + 1.0
    assert np.allclose(outer(np.ones(2)), 4.0)


def _no_return(x):
    y = x + 1.0  # noqa: F841  (computed and dropped: the call's value is None)


def _returns_none_explicitly(x):
    if x.shape[0] > 2:
        return None
    return None


def test_calling_a_helper_that_returns_none():
    @ppc.compile
    def caller(x):
        _no_return(x)
        r = _no_return(x * 2.0)
        if r is None and _returns_none_explicitly(x) is None:
            return x + 1.0
        return x
    assert np.allclose(caller(np.arange(3.0)), np.arange(3.0) + 1.0)


def test_source_is_readable_python():
    src = ppc.compile(power, static_argnums=1).source(np.ones(2), 3)
    assert "lax.fori_loop(0, 2," in src and "def power(x):" in src
    compile(src, "<test>", "exec")


def test_wrong_argument_kinds():
    with pytest.raises(ppc.CompileError, match="argument 0 of 'lambda_free' is str"):
        ppc.compile(lambda_free)("hello")


def test_plain_import_reaches_inference():
    """The README calls ppc.infer.nuts after a plain `import ppc`: a fresh interpreter must too."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import ppc; print(ppc.infer.nuts.__name__, ppc.infer.SamplerWarning.__name__)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["nuts", "SamplerWarning"]
