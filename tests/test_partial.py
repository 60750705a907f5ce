"""functools.partial functions and models: ppc.compile, the derivatives, the model
transformations and the samplers take a partial as Python calls it, its bound arguments
constants of the compiled code (as values read from globals and closures are). Checked
against Python's own call of the partial, jax.grad and scipy.stats."""
import functools
import inspect
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

import ppc
import ppc.infer
from ppc.ad import as_compiled

SETTINGS = dict(deadline=None, database=None, print_blob=False,
                derandomize=os.environ.get("PPC_HYPOTHESIS_RANDOM", "0") != "1",
                suppress_health_check=[HealthCheck.too_slow])
SCALE = float(os.environ.get("PPC_HYPOTHESIS_SCALE", "1"))


# ------------------------------------------------------------------ functions and models

def mix(a, b, c=0.5, *, d, e=2.0):
    return jnp.sum(a * b + c * d) * e + jnp.sum(d * d)


def mix_np(a, b, c=0.5, *, d, e=2.0):
    """mix in plain NumPy: the reference."""
    return np.sum(np.asarray(a) * np.asarray(b) + c * np.asarray(d)) * e + np.sum(np.asarray(d) ** 2)


def repeat(n, x, *, w):
    s = 0.0
    for i in range(n):  # (n must be known at compile time)
        s = s + x[i] * w
    return s


def pair_sum(x, *, ws):
    return jnp.sum(ws[0] * x) + jnp.sum(ws[1] * x)


def keyword_scale(x, *, scale=1.0):
    mu = ppc.Normal(0.0, scale)
    y = ppc.Normal(mu * x, 1.0)
    return y


def positional_scale(x, scale):
    mu = ppc.Normal(0.0, scale)
    y = ppc.Normal(mu * x, 1.0)
    return y


def regression(X, *, prior_scale, noise):
    beta = ppc.Normal(np.zeros(X.shape[1]), prior_scale)
    y = ppc.Normal(X @ beta, noise)
    return y


def bad_body(x, *, k):
    return x + k + {"k": k}["k"]  # (dicts do not compile: the error this file checks)


BAD_LINE = inspect.getsourcelines(bad_body)[1] + 1


def normal_posterior(scale, x, y):
    """mu ~ N(0, scale), y ~ N(mu x, 1): the posterior's mean and sd."""
    precision = 1 / scale ** 2 + x ** 2
    return x * y / precision, precision ** -0.5


# ------------------------------------------------------------------ plain functions

BINDINGS = [
    ((1.5,), {"d": np.arange(3.0)}, (np.ones(3),), {}),
    ((), {"d": np.arange(3.0), "e": 3.0}, (2.0, np.ones(3)), {}),
    ((np.full(3, 2.0), np.arange(3.0)), {"d": jnp.ones(3)}, (), {}),
    ((np.full(3, 2.0),), {"c": -1.0, "d": np.arange(3.0)}, (), {"b": np.linspace(0, 1, 3)}),
    ((), {"b": 4.0}, (np.arange(3.0),), {"d": np.ones(3), "e": 0.5}),
    ((1.0, 2.0, 3.0), {}, (), {"d": np.ones(3)}),
    ((), {}, (1.0, 2.0), {"d": jnp.arange(3.0)}),
]


@pytest.mark.parametrize("bound_args,bound_kwargs,call_args,call_kwargs", BINDINGS)
def test_compiled_partial_matches_pythons_call(bound_args, bound_kwargs, call_args, call_kwargs):
    p = functools.partial(mix, *bound_args, **bound_kwargs)
    want = functools.partial(mix_np, *bound_args, **bound_kwargs)(*call_args, **call_kwargs)
    got = ppc.compile(p)(*call_args, **call_kwargs)
    assert float(got) == pytest.approx(float(want), rel=1e-12)


def test_bound_values_are_constants_not_parameters():
    """Only the call's arguments are the entry's parameters; the bound ones are constants."""
    p = functools.partial(mix, 1.5, d=np.array([7.0, 8.0, 9.0]), e=3.0)
    ir = ppc.compile(p).ir(np.ones(3))
    assert [v.hint for v in ir.entry.params] == ["b"]
    text = str(ir)
    assert "7.0, 8.0, 9.0" in text and "3.0" in text


def test_call_keywords_override_bound_ones_as_in_python():
    p = functools.partial(mix, d=np.arange(3.0), e=2.0)
    c = ppc.compile(p)
    for kw in ({}, {"e": 5.0}, {"d": np.ones(3)}, {"d": np.ones(3), "c": 4.0}):
        want = functools.partial(mix_np, d=np.arange(3.0), e=2.0)(1.0, np.arange(3.0), **kw)
        assert float(c(1.0, np.arange(3.0), **kw)) == pytest.approx(float(want), rel=1e-12)
    assert [v.hint for v in c.ir(1.0, np.arange(3.0), e=5.0).entry.params] == ["a", "b", "e"]


def test_nested_partials_bind_as_python_does():
    inner = functools.partial(mix, 1.0, d=np.arange(3.0), e=2.0)
    as_compiled(inner)  # (an attribute on it: the next partial wraps it rather than flattening it)
    outer = functools.partial(inner, np.full(3, 3.0), e=4.0)
    assert outer.func is inner
    want = mix_np(1.0, np.full(3, 3.0), 0.25, d=np.arange(3.0), e=4.0)
    assert float(ppc.compile(outer)(0.25)) == pytest.approx(float(want), rel=1e-12)
    assert float(functools.partial(outer, c=0.25)()) == pytest.approx(float(want), rel=1e-12)
    assert float(ppc.compile(functools.partial(outer, c=0.25))()) == pytest.approx(float(want), rel=1e-12)
    # the inner partial keeps its own binding and its own program
    want_inner = mix_np(1.0, np.ones(3), d=np.arange(3.0), e=2.0)
    assert float(as_compiled(inner)(np.ones(3))) == pytest.approx(float(want_inner), rel=1e-12)


def test_flattened_nested_partials():
    outer = functools.partial(functools.partial(mix, 1.0, e=1.0), np.ones(3), e=3.0, d=np.arange(3.0))
    assert outer.func is mix  # (Python flattened it)
    want = mix_np(1.0, np.ones(3), 2.0, d=np.arange(3.0), e=3.0)
    assert float(ppc.compile(outer)(2.0)) == pytest.approx(float(want), rel=1e-12)


def test_bound_python_numbers_are_compile_time_constants():
    """A bound int can drive a Python loop, as a global's can."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    for n in (1, 3):
        assert float(ppc.compile(functools.partial(repeat, n, w=2.0))(x)) == 2.0 * x[:n].sum()


def test_bound_tuple_of_arrays():
    ws = (np.arange(3.0), jnp.full(3, 2.0))
    x = np.array([1.0, -1.0, 0.5])
    got = ppc.compile(functools.partial(pair_sum, ws=ws))(x)
    assert float(got) == pytest.approx(float(np.sum(np.asarray(ws[0]) * x) + np.sum(np.asarray(ws[1]) * x)))


def test_grad_of_a_partial_matches_jax_grad():
    p = functools.partial(mix, d=jnp.arange(3.0), e=3.0)
    a, b = jnp.array([0.5, -1.0, 2.0]), jnp.array([1.5, 0.25, -0.5])
    np.testing.assert_allclose(ppc.grad(p)(a, b), jax.grad(p)(a, b), rtol=1e-12)
    g = ppc.grad(p, argnums=(0, 1))(a, b)
    want = jax.grad(p, argnums=(0, 1))(a, b)
    for x, y in zip(g, want):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    v, dv = ppc.value_and_grad(p)(a, b)
    assert float(v) == pytest.approx(float(p(a, b)), rel=1e-12)
    np.testing.assert_allclose(dv, jax.grad(p)(a, b), rtol=1e-12)


def test_grad_of_a_partial_of_a_compiled_function_with_static_arguments():
    """A compiled function's static_argnums count from the partial's own arguments."""
    c = ppc.compile(repeat, static_argnums=0)
    p = functools.partial(c, w=2.0)
    x = np.array([1.0, 2.0, 3.0])
    assert ppc.compile(p).static_argnums == {0}
    np.testing.assert_allclose(ppc.grad(p, argnums=1)(2, x), [2.0, 2.0, 0.0])
    q = ppc.compile(functools.partial(c, 3, w=0.5))  # (the static one bound)
    assert q.static_argnums == frozenset() and float(q(x)) == 3.0
    r = ppc.compile(functools.partial(repeat, w=1.5), static_argnums=(0,))
    assert float(r(2, x)) == 4.5


def test_signature_and_name_are_the_partials():
    p = functools.partial(mix, 1.0, d=np.zeros(3))
    c = ppc.compile(p)
    assert [(q.name, q.kind) for q in inspect.signature(c).parameters.values()] == \
        [("b", inspect.Parameter.POSITIONAL_OR_KEYWORD), ("c", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         ("d", inspect.Parameter.KEYWORD_ONLY), ("e", inspect.Parameter.KEYWORD_ONLY)]
    assert c.__name__ == "mix" and c.__ppc_function__ is p
    assert ppc.grad(p).__name__ == "grad_mix"


def test_autobatch_of_a_partial():
    p = functools.partial(mix, 2.0, d=np.arange(3.0))
    b = np.random.default_rng(0).normal(size=(4, 3))
    got = ppc.autobatch(p)(b)
    np.testing.assert_allclose(got, [mix_np(2.0, row, d=np.arange(3.0)) for row in b], rtol=1e-12)


def test_partial_on_the_backend(backend):
    p = functools.partial(mix, 1.5, d=np.arange(3.0), e=0.5)
    got = ppc.compile(p, backend=backend)(np.ones(3))
    assert float(got) == pytest.approx(float(mix_np(1.5, np.ones(3), d=np.arange(3.0), e=0.5)), rel=1e-12)
    assert float(as_compiled(p).with_backend(backend)(np.ones(3))) == pytest.approx(float(got), rel=1e-12)


@pytest.mark.skipif(len(jax.devices()) < 2, reason="needs 2 (emulated) devices")
def test_partitioned_partial():
    from ppc.partition import Mesh, apply, tile

    def loss(w, x, *, scale):
        return jnp.sum(jnp.tanh(x @ w)) * scale
    p = functools.partial(loss, scale=2.0)
    w, x = np.linspace(-1, 1, 12).reshape(3, 4), np.linspace(0, 2, 24).reshape(8, 3)
    got = apply(p, [tile("x", 0, "batch")], Mesh({"batch": 2}))(w, x)
    assert float(got) == pytest.approx(float(np.sum(np.tanh(x @ w)) * 2.0), rel=1e-12)


# ------------------------------------------------------------------ calls from compiled code

GLOBAL_PARTIAL = functools.partial(mix, 2.0, d=np.arange(3.0))
SUM_ROWS = functools.partial(jnp.sum, axis=0)
COMPILED_PARTIAL = ppc.compile(functools.partial(mix, 5.0, d=np.ones(3), e=1.0))


def calls_partials(x):
    return GLOBAL_PARTIAL(x) + SUM_ROWS(np.ones((2, 3)) * x)[1] + COMPILED_PARTIAL(x)


def grad_of_partial_inside(x):
    return ppc.grad(GLOBAL_PARTIAL)(x)


def test_compiled_code_calls_partials():
    x = np.array([0.5, 1.0, -2.0])
    want = (mix_np(2.0, x, d=np.arange(3.0)) + np.sum(np.ones((2, 3)) * x, axis=0)[1]
            + mix_np(5.0, x, d=np.ones(3), e=1.0))
    assert float(ppc.compile(calls_partials)(x)) == pytest.approx(float(want), rel=1e-12)
    np.testing.assert_allclose(ppc.compile(grad_of_partial_inside)(x), jax.grad(GLOBAL_PARTIAL)(jnp.asarray(x)),
                               rtol=1e-12)


# ------------------------------------------------------------------ models

def test_log_joint_of_keyword_data_bound_by_partial():
    for scale in (0.5, 3.0):
        got = ppc.log_joint(functools.partial(keyword_scale, scale=scale))(2.0, mu=0.5, y=1.0)
        assert float(got) == pytest.approx(st.norm(0, scale).logpdf(0.5) + st.norm(1.0, 1).logpdf(1.0), rel=1e-12)


def test_log_joint_with_positional_and_array_bindings():
    X = np.array([[1.0, 0.5], [0.0, 2.0], [-1.0, 1.0]])
    beta, y = np.array([0.3, -0.2]), np.array([0.1, -0.5, 2.0])
    for prior_scale, noise in ((1.0, 0.5), (2.0, jnp.array([0.5, 1.0, 1.5]))):
        p = functools.partial(regression, X, prior_scale=prior_scale, noise=noise)
        got = ppc.log_joint(p)(beta=beta, y=y)
        want = st.norm(0, prior_scale).logpdf(beta).sum() + st.norm(X @ beta, np.asarray(noise)).logpdf(y).sum()
        assert float(got) == pytest.approx(want, rel=1e-12)


def test_two_partials_of_one_model_do_not_share_programs():
    """The worst outcome is a silent wrong answer: each partial compiles its own program,
    called in turn, in every transformation."""
    p1, p3 = (functools.partial(keyword_scale, scale=s) for s in (1.0, 3.0))
    for _ in range(2):
        for p, s in ((p1, 1.0), (p3, 3.0)):
            got = ppc.log_joint(p)(2.0, mu=0.5, y=1.0)
            assert float(got) == pytest.approx(st.norm(0, s).logpdf(0.5) + st.norm(1.0, 1).logpdf(1.0), rel=1e-12)
            m = ppc.condition(p, y=1.0)
            assert float(ppc.log_joint(m)(2.0, mu=0.5)) == pytest.approx(float(got), rel=1e-12)
            u = ppc.unconstrained(m, 2.0)
            assert float(u.log_density(np.array([0.5]))) == pytest.approx(float(got), rel=1e-12)
    assert as_compiled(p1) is not as_compiled(p3)
    assert as_compiled(p1) is as_compiled(p1)  # (a second transformation reuses the first's program)


def test_partials_of_one_compiled_function_with_arrays_of_one_shape():
    c = ppc.compile(mix)
    a, b = 1.0, np.ones(3)
    assert float(c(a, b, d=np.zeros(3))) == pytest.approx(float(mix_np(a, b, d=np.zeros(3))))
    for d in (np.arange(3.0), np.full(3, -2.0), jnp.ones(3)):
        p = functools.partial(c, d=d)
        assert float(ppc.compile(p)(a, b)) == pytest.approx(float(mix_np(a, b, d=np.asarray(d))), rel=1e-12)
        assert float(as_compiled(p)(a, b)) == pytest.approx(float(mix_np(a, b, d=np.asarray(d))), rel=1e-12)
    assert float(c(a, b, d=np.zeros(3))) == pytest.approx(float(mix_np(a, b, d=np.zeros(3))))


def test_sample_of_a_partial_model():
    key = jax.random.key(7)
    draws = {s: ppc.sample(functools.partial(keyword_scale, scale=s), key, 2.0) for s in (1.0, 3.0)}
    for s, d in draws.items():
        twin = ppc.sample(positional_scale, key, 2.0, s)
        assert float(d["mu"]) == pytest.approx(float(twin["mu"]), rel=1e-12)
        assert float(d["y"]) == pytest.approx(float(twin["y"]), rel=1e-12)
    # one key: mu scales with the prior's scale, and y = mu x + the same noise
    assert float(draws[3.0]["mu"]) == pytest.approx(3.0 * float(draws[1.0]["mu"]), rel=1e-12)
    assert float(draws[3.0]["y"] - draws[1.0]["y"]) == pytest.approx(
        2.0 * float(draws[3.0]["mu"] - draws[1.0]["mu"]), rel=1e-9)
    p3 = functools.partial(keyword_scale, scale=3.0)  # (one partial: its program compiles once)
    mus = np.array([float(ppc.sample(p3, jax.random.key(i), 2.0)["mu"]) for i in range(200)])
    assert 2.4 < mus.std() < 3.6


def test_nuts_on_partial_models():
    x, y = 2.0, 1.0
    for scale in (0.1, 10.0):
        m = ppc.condition(functools.partial(keyword_scale, scale=scale), y=y)
        idata = ppc.infer.nuts(m, x, num_warmup=150, num_samples=150, chains=2, progress=False, diagnose=False)
        mean, sd = normal_posterior(scale, x, y)
        draws = np.asarray(idata.posterior["mu"]).ravel()
        assert draws.shape == (300,)
        assert abs(draws.mean() - mean) < 0.3 * sd + 0.02
        assert 0.6 * sd < draws.std() < 1.4 * sd


# ------------------------------------------------------------------ errors

def test_binding_an_argument_the_function_lacks():
    p = functools.partial(keyword_scale, sigma=1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'sigma'") as python:
        p(2.0)
    assert "keyword_scale()" in str(python.value)
    for make in (ppc.compile, ppc.log_joint, lambda f: ppc.sample(f, jax.random.key(0), 2.0),
                 lambda f: ppc.condition(f, y=1.0), ppc.grad):
        with pytest.raises(TypeError, match=r"keyword_scale\(\): got an unexpected keyword argument 'sigma' "
                                            r"\(bound by functools.partial\)"):
            make(p)


def test_binding_too_many_or_twice():
    with pytest.raises(TypeError, match=r"keyword_scale\(\) takes 1 positional argument"):
        functools.partial(keyword_scale, 1.0, 2.0)()
    with pytest.raises(TypeError, match=r"keyword_scale\(\) takes 1 positional argument but functools.partial "
                                        r"binds 2"):
        ppc.compile(functools.partial(keyword_scale, 1.0, 2.0))
    with pytest.raises(TypeError, match="multiple values for argument 'a'"):
        functools.partial(mix, 1.0, a=2.0)()
    with pytest.raises(TypeError, match=r"mix\(\): multiple values for argument 'a'"):
        ppc.compile(functools.partial(mix, 1.0, a=2.0))


def test_a_call_that_collides_with_a_bound_keyword():
    p = functools.partial(mix, b=2.0, d=np.ones(3))
    with pytest.raises(TypeError, match="multiple values for argument 'b'"):
        p(1.0, 3.0)
    with pytest.raises(ppc.CompileError, match=r"mix\(\) got multiple values for argument 'b'"):
        ppc.compile(p)(1.0, 3.0)


def test_partials_of_what_ppc_cannot_compile():
    with pytest.raises(TypeError, match=r"needs a Python function, got a functools.partial of sum"):
        ppc.compile(functools.partial(np.sum, axis=0))
    with pytest.raises(TypeError, match=r"functools.partial of grad_mix, a derived function"):
        ppc.compile(functools.partial(ppc.grad(mix), d=np.ones(3)))
    lj = ppc.log_joint(keyword_scale)
    with pytest.raises(TypeError, match=r"ppc.log_joint\) takes latent values by name"):
        ppc.compile(functools.partial(lj, 2.0))
    with pytest.raises(TypeError, match=r"needs a Python function, got int"):
        ppc.compile(3)


def test_errors_name_the_wrapped_functions_source():
    with pytest.raises(ppc.CompileError) as e:
        ppc.compile(functools.partial(bad_body, k=np.ones(2)))(1.0)
    loc = e.value.loc
    assert os.path.samefile(loc.file, __file__) and loc.line == BAD_LINE
    assert loc.col == inspect.getsourcelines(bad_body)[0][1].index("{")
    assert "dicts are not supported in compiled code" in str(e.value)


# ------------------------------------------------------------------ property

CALL_MODES = hst.sampled_from(["bound_kw", "call_kw", "call"])


@settings(max_examples=max(1, int(25 * SCALE)), **SETTINGS)
@given(a=hst.floats(-4, 4, allow_nan=False, width=64),
       b=hst.lists(hst.floats(-4, 4, allow_nan=False, width=64), min_size=3, max_size=3),
       c=hst.floats(-4, 4, allow_nan=False, width=64),
       d=hst.lists(hst.floats(-4, 4, allow_nan=False, width=64), min_size=3, max_size=3),
       e=hst.one_of(hst.floats(-4, 4, allow_nan=False, width=64), hst.integers(-3, 3)),
       n_positional=hst.integers(0, 3), modes=hst.tuples(CALL_MODES, CALL_MODES, CALL_MODES, CALL_MODES),
       array_kind=hst.sampled_from(["numpy", "jax"]))
def test_partials_over_bound_values_and_binding_modes(a, b, c, d, e, n_positional, modes, array_kind):
    """Any mix of positional and keyword bindings, of Python numbers, NumPy and JAX arrays,
    compiled (and differentiated) matches Python's call of the partial (and jax.grad)."""
    wrap = {"numpy": np.asarray, "jax": jnp.asarray}[array_kind]
    values = {"a": a, "b": wrap(np.asarray(b)), "c": c, "d": wrap(np.asarray(d)), "e": e}
    names = ["a", "b", "c"]
    bound_args = [values[n] for n in names[:n_positional]]
    bound_kw, call_args, call_kw = {}, [], {}
    positional_ok = True  # (after a keyword-bound parameter, the rest are keyword-only)
    for name, mode in zip(names[n_positional:] + ["d", "e"], modes + ("call_kw",)):
        if mode == "bound_kw":
            bound_kw[name] = values[name]
            positional_ok = False
        elif mode == "call" and positional_ok and name in names:
            call_args.append(values[name])
        else:
            call_kw[name] = values[name]
            positional_ok = False
    p = functools.partial(mix, *bound_args, **bound_kw)
    want = functools.partial(mix_np, *bound_args, **bound_kw)(*call_args, **call_kw)
    got = ppc.compile(p)(*call_args, **call_kw)
    assert float(got) == pytest.approx(float(want), rel=1e-10, abs=1e-10)
    if call_args:
        jp = functools.partial(mix, *bound_args, **{k: jnp.asarray(v) for k, v in bound_kw.items()})
        args = [jnp.asarray(v, jnp.float64) for v in call_args]
        np.testing.assert_allclose(ppc.grad(p)(*call_args, **call_kw), jax.grad(jp)(*args, **call_kw),
                                   rtol=1e-10, atol=1e-10)
