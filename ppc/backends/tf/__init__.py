"""The TensorFlow backend: IR -> TensorFlow source -> `tf.function(jit_compile=True)`.

The generated function is traced once per specialization, with an input signature fixed
by the IR's parameter types, so XLA compiles it once and nothing retraces. At the
boundary, arguments are what the JAX backend takes (NumPy or JAX arrays, Python numbers,
JAX typed PRNG keys) and results are NumPy arrays (PRNG keys come back as JAX typed
keys), so a ppc program gives the same Python values on either backend. Inside, a key
is one int64 (see runtime.py).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TF loads: no start-up banners (a user's setting wins)

import jax  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ...ir import InternalError, Module, TupleType, print_module  # noqa: E402
from ...ir.types import numpy_dtype  # noqa: E402
from .. import emit as shared  # noqa: E402
from ..host import eager, runs_on_host  # noqa: E402
from .emit import DIALECT, emit_module  # noqa: E402


def check_supported(module: Module) -> None:
    shared.check_supported(module, "TensorFlow")


def _spec(t):
    if isinstance(t, TupleType):
        return tuple(_spec(e) for e in t.elements)
    return tf.TensorSpec(t.shape, tf.int64 if t.dtype == "key" else tf.as_dtype(numpy_dtype(t.dtype)))


def _has_key(t) -> bool:
    if isinstance(t, TupleType):
        return any(_has_key(e) for e in t.elements)
    return t.dtype == "key"


def pack_keys(keys) -> np.ndarray:
    """JAX typed keys -> the TF backend's int64 keys (high word, low word)."""
    words = np.asarray(jax.random.key_data(keys)).astype(np.uint64)
    return ((words[..., 0] << np.uint64(32)) | words[..., 1]).view(np.int64)


def unpack_keys(packed) -> jax.Array:
    """The TF backend's int64 keys -> JAX typed keys."""
    bits = np.asarray(packed).view(np.uint64)
    words = np.stack([bits >> np.uint64(32), bits & np.uint64(0xFFFFFFFF)], axis=-1).astype(np.uint32)
    return jax.random.wrap_key_data(words)


def _has_float(t) -> bool:
    if isinstance(t, TupleType):
        return any(_has_float(e) for e in t.elements)
    return t.dtype.startswith("f")


def _argument(t):
    """A converter for arguments of type t (None: TF converts them itself). A float scalar
    (Python's, or NumPy's np.float64, a subclass) becomes a 0-d array first: TF converts
    Python numbers through a cache keyed by value, where -0.0 == 0.0, so a 0.0 passed after
    a -0.0 arrived as -0.0."""
    if not _has_key(t) and not _has_float(t):
        return None
    if isinstance(t, TupleType):
        parts = [_argument(e) or (lambda v: v) for e in t.elements]
        return lambda v: tuple(f(x) for f, x in zip(parts, v))
    if t.dtype == "key":
        return pack_keys
    dtype = numpy_dtype(t.dtype)
    return lambda v: np.asarray(v, dtype) if isinstance(v, (float, np.floating)) else v


def _result(t):
    if isinstance(t, TupleType):
        parts = [_result(e) for e in t.elements]
        return lambda v: tuple(f(x) for f, x in zip(parts, v))
    if t.dtype == "key":
        return lambda v: unpack_keys(v.numpy())
    return lambda v: v.numpy()


def compile_module(module: Module, origin: str = "", single_result: bool = False, machine: bool = False):
    """(source, compiled entry function) for a canonical module: the function takes what
    the JAX backend's does and returns NumPy arrays (a tuple; with `single_result`, the
    one array). A `machine` compiles as any module does here (TF's XLA options are its own)."""
    host = runs_on_host(module)
    if not host:
        check_supported(module)
    source, consts = emit_module(module, origin)
    fn = shared.load(source, consts, module.entry.name, DIALECT)
    entry = module.entry
    if host:  # host control flow (backends/host.py): TF runs it eagerly, op by op
        compiled = eager(lambda *args: fn(*tf.nest.map_structure(tf.convert_to_tensor, args)))
    else:
        # the concrete function: traced here, XLA-compiled on the first call; calling it skips
        # tf.function's signature dispatch (half the per-call overhead on small programs)
        try:
            compiled = tf.function(fn, input_signature=[_spec(p.type) for p in entry.params], jit_compile=True,
                                   autograph=False).get_concrete_function()
        except (TypeError, ValueError, tf.errors.OpError) as e:  # an emission rule wrote code TF refuses
            raise InternalError("tf backend", f"TensorFlow rejected the generated source ({type(e).__name__}: {e})",
                                print_module(module)) from e
    convert_in = [_argument(p.type) for p in entry.params]
    convert_out = [_result(t) for t in entry.result_types]
    if not any(convert_in):
        convert_in = None

    def run(*args):
        if convert_in is not None:
            args = [a if f is None else f(a) for f, a in zip(convert_in, args)]
        out = compiled(*args)
        return tuple(f(v) for f, v in zip(convert_out, out))
    if single_result:
        return source, lambda *args: run(*args)[0]
    return source, run


__all__ = ["compile_module", "emit_module", "check_supported", "pack_keys", "unpack_keys"]
