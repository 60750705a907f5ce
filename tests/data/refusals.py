"""Programs ppc must refuse. Each offending line ends with `# ERR`; tests check that the
error points at that line."""
import numpy as np

import ppc


def uses_try(x):
    try:  # ERR
        y = x + 1
    except ValueError:
        y = x
    return y


def uses_with(x):
    with open("f") as f:  # ERR
        pass
    return x


def uses_class(x):
    class A:  # ERR
        pass
    return x


counter = 0


def uses_global(x):
    global counter  # ERR
    return x


def returns_lambda(x):
    return lambda y: x + y  # ERR


def uses_yield(x):
    yield x  # ERR


def mutates_list(x):
    xs = [x]
    xs.append(x)  # ERR
    return xs[0]


def item_assignment(x):
    x[0] = 1.0  # ERR
    return x


def uses_print(x):
    print(x)  # ERR
    return x


def uses_dict(x):
    d = {"a": x}  # ERR
    return d


def uses_raise(x):
    if x.shape[0] > 2:
        raise ValueError("no")  # ERR
    return x


def while_else(x):
    i = 0
    while i < 3:  # ERR
        i += 1
    else:
        i = 0
    return x * i


def ambiguous_truth(x):
    if x > 0:  # ERR
        return x
    return -x


def shape_mismatch(x, y):
    return x + y  # ERR


def matmul_mismatch(x, y):
    return x @ y  # ERR


def unsupported_function(x):
    return np.linalg.eig(x)  # ERR


def undefined_name(x):
    return x + not_defined_anywhere  # ERR


def changes_shape_in_loop(x):
    i = 0
    while i < 3:
        x = np.concatenate([x, x])  # ERR
        i += 1
    return x


def maybe_undefined(x):
    if np.sum(x) > 0:
        y = x
    return y  # ERR


def uses_del(x):
    y = x
    del y  # ERR
    return x


def uses_fstring(x):
    s = f"{x}"  # ERR
    return x


def traced_assert(x):
    assert np.sum(x) > 0  # ERR
    return x


def kwargs_call(x):
    opts = (1, 2)
    return np.sum(x, **opts)  # ERR


def traced_slice(x, n):
    return x[:n]  # ERR


def bad_reshape(x):
    return x.reshape(4, 4)  # ERR


def no_return_on_some_path(x):
    for i in range(x.shape[0]):
        if x[i] > 0:
            return x[i]
    y = 1  # ERR


def returns_string(x):
    return "hello"  # ERR


def static_index_out_of_range(x):
    return x[10]  # ERR


def async_def_inside(x):
    z = x + 1
    async def g():  # ERR
        return 1
    return z


def nonlocal_inside(x):
    total = x

    def add(v):
        nonlocal total  # ERR
        total = total + v
    add(x)
    return total


def model_run_as_program(x):
    mu = ppc.Normal(0.0, 1.0)  # ERR
    y = ppc.Normal(mu + x, 1.0)
    return y


def comprehension_over_traced_range(x, n):
    return np.stack([x * i for i, k in enumerate(range(n))])  # ERR


def recurses_too_deeply_at_compile_time(x):
    return count_at_compile_time(0, x)


def count_at_compile_time(i, x):
    if i == 10_000:  # known at compile time: each level is specialized on its own i
        return x
    return count_at_compile_time(i + 1, x + 1.0)  # ERR


def traced_shape(x, n):
    return x + np.zeros((3, n))  # ERR


def missing_module_attribute(x):
    return ppc.sigmoid(x)  # ERR
