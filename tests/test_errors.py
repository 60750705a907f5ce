"""Programs ppc cannot compile are refused with an error naming file, line and column,
showing the line with a caret, and saying what to write instead."""
import pathlib

import numpy as np
import pytest

import ppc

import data.refusals as R

SOURCE = pathlib.Path(R.__file__).read_text().splitlines()


def marked_line(fn) -> int:
    """The 1-based line marked `# ERR` inside fn's definition."""
    start = fn.__code__.co_firstlineno
    for i in range(start - 1, len(SOURCE)):
        if SOURCE[i].rstrip().endswith("# ERR"):
            return i + 1
    raise AssertionError(f"no # ERR line in {fn.__name__}")


x3 = np.ones(3, np.float32)
x4 = np.ones(4, np.float32)
m34 = np.ones((3, 4), np.float32)

CASES = [
    # function, arguments, a phrase the message must contain, a phrase the hint must contain
    (R.uses_try, (x3,), "'try' statements are not supported", "if/else"),
    (R.uses_with, (x3,), "'with' statements are not supported", "outside"),
    (R.uses_class, (x3,), "class definitions are not supported", "outside"),
    (R.uses_global, (x3,), "'global' is not supported", "argument"),
    (R.returns_lambda, (x3,), "functions cannot escape", "return arrays"),
    (R.uses_yield, (x3,), "generators", "tuple"),
    (R.mutates_list, (x3,), "lists cannot be mutated", "x.at[i].set"),
    (R.item_assignment, (x3,), "arrays are immutable", "x.at[i].set(v)"),
    (R.uses_print, (x3,), "print() is not supported", "return the values"),
    (R.uses_dict, (x3,), "dicts are not supported", "tuple"),
    (R.uses_raise, (x3,), "'raise' is not supported", "assert"),
    (R.while_else, (x3,), "'while ... else' is not supported", "flag"),
    (R.ambiguous_truth, (x3,), "truth value of an array of shape (3,) is ambiguous", ".any()"),
    (R.shape_mismatch, (x3, x4), "shapes (3,) and (4,) do not broadcast", None),
    (R.matmul_mismatch, (m34, m34), "do not align", None),
    (R.unsupported_function, (m34,), "eig is not supported", "README"),
    (R.undefined_name, (x3,), "name 'not_defined_anywhere' is not defined", None),
    (R.changes_shape_in_loop, (x3,), "changes shape from (3,) to (6,)", "keep their shape"),
    (R.maybe_undefined, (x3,), "'y' may be undefined here", None),
    (R.uses_del, (x3,), "'del' is not supported", None),
    (R.uses_fstring, (x3,), "f-strings are not supported", None),
    (R.traced_assert, (x3,), "assert on a value computed at run time", "compile time"),
    (R.kwargs_call, (x3,), "'**' arguments are not supported", "keyword"),
    (R.traced_slice, (x3, 2), "slice bound must be a Python int known at compile time", None),
    (R.traced_shape, (x3, 2), "shape must be known at compile time", "static_argnums"),
    (R.missing_module_attribute, (x3,), "module 'ppc' has no attribute 'sigmoid'", None),
    (R.bad_reshape, (m34,), "cannot reshape", None),
    (R.no_return_on_some_path, (x3,), "may reach its end without returning", "return"),
    (R.returns_string, (x3,), "returns str 'hello', which is not an array", None),
    (R.static_index_out_of_range, (x3,), "index 10 is out of bounds", None),
    (R.async_def_inside, (x3,), "async functions are not supported", "plain 'def'"),
    (R.nonlocal_inside, (x3,), "'nonlocal' is not supported", "return the new value"),
    (R.model_run_as_program, (x3,), "'model_run_as_program' is a model (its random variable 'mu' is here)",
     "ppc.sample(model_run_as_program, key, ...)"),
    (R.comprehension_over_traced_range, (x3, 2), "a comprehension needs a length known at compile time, got "
     "enumerate() of a range() with bounds computed at run time", "use a for loop"),
    (R.recurses_too_deeply_at_compile_time, (x3,), "'count_at_compile_time' recurses too deeply on arguments "
     "known at compile time", "pass the argument that changes from level to level as an array"),
]


@pytest.mark.parametrize("fn,args,message,hint", CASES, ids=[c[0].__name__ for c in CASES])
def test_refusal(fn, args, message, hint):
    with pytest.raises(ppc.CompileError) as info:
        ppc.compile(fn)(*args)
    err = info.value
    assert message in err.message, err.render()
    if hint is not None:
        assert err.hint and hint in err.hint, err.render()
    assert err.loc is not None and err.loc.file == R.__file__
    assert err.loc.line == marked_line(fn), err.render()
    text = str(err)
    line = SOURCE[err.loc.line - 1]
    assert f"{R.__file__}:{err.loc.line}:{err.loc.col + 1}: error:" in text
    assert line in text
    caret_line = text.splitlines()[2]
    assert caret_line.strip() == "^" and len(caret_line) - 5 == err.loc.col
    assert line[err.loc.col:].strip(), "the caret points at text on the line"


def test_at_least_a_dozen_distinct_refusals():
    assert len({c[2] for c in CASES}) >= 12


TRANSFORMS = {"grad": (ppc.grad, x3), "hessian": (ppc.hessian, x3),
              "local_static": (lambda f: ppc.autobatch(f, strategy="local_static"), np.ones((2, 3))),
              "program_counter": (lambda f: ppc.autobatch(f, strategy="program_counter"), np.ones((2, 3)))}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforming_a_model_is_refused_at_its_random_variable(name):
    """Differentiating or batching a model as a plain program has no meaning until a model
    transformation (log_joint, sample, condition) rewrites its random variables."""
    transform, x = TRANSFORMS[name]
    with pytest.raises(ppc.CompileError, match="'model_run_as_program' is a model") as info:
        transform(R.model_run_as_program)(x)
    assert info.value.loc.line == marked_line(R.model_run_as_program)
    from scipy.stats import norm
    lj = ppc.log_joint(R.model_run_as_program)(x3, mu=0.5, y=np.zeros(3, np.float32))  # transformed, it runs
    assert float(lj) == pytest.approx(norm.logpdf(0.5) + norm.logpdf(np.zeros(3), 0.5 + x3, 1.0).sum(), rel=1e-5)


def test_error_is_not_a_deep_traceback():
    """A compile error is raised from ppc's API, with no pass internals in its text."""
    with pytest.raises(ppc.CompileError) as info:
        ppc.compile(R.uses_try)(x3)
    assert "Traceback" not in str(info.value)


def test_a_lambda_not_found_in_its_source_is_refused():
    """A lambda's source is found in its whole file (its own lines need not parse alone);
    where the file no longer holds it, the error names the line and asks for a 'def'."""
    import linecache
    name = "<lambda source test>"
    namespace = {}
    exec(compile("f = lambda x: x + 1.0\n", name, "exec"), namespace)
    linecache.cache[name] = (6, None, ["g = 2\n"], name)  # the file changed since
    with pytest.raises(ppc.CompileError, match="cannot tell this lambda's source apart") as info:
        ppc.compile(namespace["f"])(x3)
    assert (info.value.loc.file, info.value.loc.line) == (name, 1) and "'def'" in info.value.hint
