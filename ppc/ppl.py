"""Models: log_joint, sample, condition and unconstrained, each a compiled function built
by a ppl pass from the model's IR (see passes/ppl.py).

A model is a Python function whose random variables are ppc distribution calls; it is
specialized on its arguments like any compiled function. `condition` returns a model
too, so the transformations compose: log_joint(condition(model, y=data)).
"""
from __future__ import annotations

import numpy as np

from .ad import Derived, as_compiled
from .api import Compiled, Specialization
from .frontend.lower import Slot
from .frontend.numpy_api import register_callable
from .ir import CompileError, TensorType
from .ir.types import dtype_of_numpy, numpy_dtype
from .passes.ppl import (condition_module, latent_layout, log_joint_module, parameters_module,
                         sample_module, unconstrained_module)


class Model:
    """A model with some random variables pinned to data (`ppc.condition`)."""

    def __init__(self, base, observed: dict):
        self.base = base if isinstance(base, Model) else as_compiled(base)
        self.observed = dict(observed)
        self.__name__ = getattr(self.base, "__name__", "model")
        program = _program(self.base)
        names = list(self.observed)
        types = [_data_type(n, np.asarray(d)) for n, d in self.observed.items()]
        key = ("conditioned", tuple(zip(names, types)))
        if key not in program.derived:  # (the program depends on the data's names and types, not its values)
            def build(spec: Specialization, args, kwargs):
                return condition_module(spec.canonical, names, types), spec.template, ()
            program.derived[key] = _Conditioned(program, build, f"{self.__name__}_conditioned", names)
        self._program = program.derived[key]

    @property
    def names(self):
        return list(self.observed)

    def specialize(self, *args):
        return self._program.specialize(*args)

    def data(self):
        return _data(self.base) + [np.asarray(v) for v in self.observed.values()]

    def observations(self) -> dict:
        """Every pinned variable's data, by name (conditions of conditions included)."""
        inner = self.base.observations() if isinstance(self.base, Model) else {}
        return {**inner, **{k: np.asarray(v) for k, v in self.observed.items()}}


class _Conditioned(Derived):
    """A conditioned model's program: the model's arguments, then the data of each pinned
    variable. Called with too few arguments (the data left out, as in
    `ppc.grad(u.log_density_fn)(theta, sigma)` without `*u.args`), the data's places once
    went to the model's arguments, and the error named a model argument that was given."""

    def __init__(self, base: Compiled, build, name: str, names: list[str]):
        super().__init__(base, build, name, drop_last=len(names), models=True)
        self.names = list(names)

    def _lower(self, args, kwargs):
        need = _required_positional(self)
        if not kwargs and need is not None and len(args) < len(need):
            raise CompileError(f"{self.__name__} takes {len(need)} argument(s), {', '.join(need)}: got {len(args)} "
                               "(a conditioned model's data come after the model's own arguments: u.args holds "
                               "them all)")
        return super()._lower(args, kwargs)


def _required_positional(program) -> list[str] | None:
    """What positional arguments a model's program needs, described (None: unknown)."""
    import inspect
    if isinstance(program, _Conditioned):
        inner = _required_positional(program.base)
        return None if inner is None else inner + [f"the data of '{n}'" for n in program.names]
    fn = getattr(program, "__ppc_function__", None)
    if type(program) is not Compiled or fn is None:
        return None
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return [f"'{p.name}'" for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.default is p.empty]


def _data_type(name: str, data: np.ndarray) -> TensorType:
    """The IR type of a variable's data; data of no IR dtype (complex, strings, objects
    such as a None among numbers) is an error naming the variable."""
    try:
        return TensorType(data.shape, dtype_of_numpy(data.dtype))
    except TypeError:
        raise TypeError(f"condition: the data for '{name}' has dtype {data.dtype}; observed data must be "
                        "numbers (bool, integer or float)") from None


def _program(model) -> Compiled:
    """The compiled program of a model (conditioned models append their data as args)."""
    return model._program if isinstance(model, Model) else as_compiled(model)


def _data(model) -> list:
    return model.data() if isinstance(model, Model) else []


class _Fixed(Derived):
    """A model transformation with the model's static arguments (static_argnums) fixed to
    given values and left out of its own arguments: a key or theta comes first, so the
    model's static positions no longer hold, and samplers pass the arguments into compiled
    code as arrays, where a static one (a size, a flag) cannot travel."""

    def __init__(self, base: Compiled, build, name: str, fixed: dict, **kwargs):
        super().__init__(base, build, name, **kwargs)
        self.fixed = fixed
        self.static_argnums = frozenset()

    def _lower(self, args, kwargs):
        args = list(args)
        for i in sorted(self.fixed):
            args.insert(self.drop_first + i, self.fixed[i])
        if len(args) < self.drop_first:
            raise TypeError(f"{self.__name__} takes {self.drop_first} argument(s) of its own before the model's")
        module, template, flagged = super()._lower(args, kwargs)
        for p, a in zip(module.entry.params[:self.drop_first], args):
            _check_own_argument(self.__name__, p, a)
        return module, template, flagged


def _check_own_argument(fn_name: str, param, arg):
    """A transformation's own argument (theta, a key) must have the type its program was
    built for: the program is built from the model alone, so a theta of another length
    was once read silently in part (or failed deep inside JAX), and one of another dtype
    computed in it, or failed to differentiate."""
    from .ir.types import dtype_of_numpy
    want = param.type
    shape = tuple(np.shape(arg))
    if want.dtype == "key":
        ok, got = shape == tuple(want.shape), f"shape {shape} (for a draw per key, map with jax.vmap over the keys)"
    else:
        dtype = getattr(arg, "dtype", None)
        try:
            dt = dtype_of_numpy(dtype if dtype is not None else np.asarray(arg).dtype)
        except TypeError:
            dt = str(dtype)
        ok, got = shape == tuple(want.shape) and dt == want.dtype, str(TensorType(shape, dt))
    if not ok:
        raise CompileError(f"{fn_name} takes {param.hint or 'its first argument'} as {want}, got {got}")


def _split_static(program: Compiled, args: list) -> tuple[dict, list]:
    """(the model's static arguments by position, its other arguments)."""
    fixed = {i: a for i, a in enumerate(args) if i in program.static_argnums}
    return fixed, [a for i, a in enumerate(args) if i not in fixed]


def on_backend(model, backend: str | None):
    """The model compiled for `backend` (the same model when it already is, or when
    `backend` is None): for samplers asked to run a plain or JAX-compiled model on TF."""
    if backend is None:
        return model
    if isinstance(model, Model):
        base = on_backend(model.base, backend)
        return model if base is model.base else Model(base, model.observed)
    if isinstance(model, Compiled):
        return model.with_backend(backend)
    return Compiled(model, backend)


def condition(model, **observed) -> Model:
    """The model with the named random variables pinned to the given values."""
    if not observed:
        raise ValueError("condition needs at least one name=value")
    return Model(model, observed)


def log_joint(model):
    """fn(*args, **values) -> the model's log density at `values` (one per latent
    variable, by name); observed variables (ppc.condition) contribute their data's density."""
    program = _program(model)
    data = _data(model)
    cache = {}

    def fn(*args, **values):
        full = list(args) + data
        spec = program.specialize(*full)
        key = id(spec)
        if key not in cache:
            lj, names = log_joint_module(spec.canonical)
            params = lj.entry.body.params  # (args..., latent values...)
            built = {"names": names, "shapes": [p.type.shape for p in params[len(params) - len(names):]]}

            def build(s, a, k, lj=lj):
                return lj, Slot(lj.entry.result_types[0], False), ()
            built["fn"] = Derived(program, build, f"log_joint_{program.__name__}", drop_last=len(names), models=True)
            cache[key] = built
        built = cache[key]
        names = built["names"]
        missing = [n for n in names if n not in values]
        unknown = [n for n in values if n not in names]
        if unknown:
            raise TypeError(f"log_joint got a value for '{unknown[0]}', which is not a latent random variable "
                            f"of the model (latent: {', '.join(names) or 'none'})")
        if missing:
            raise TypeError(f"log_joint needs a value for random variable '{missing[0]}'")
        values = {n: v if hasattr(v, "shape") else np.asarray(v) for n, v in values.items()}  # lists, floats
        for n, shape in zip(names, built["shapes"]):
            got = tuple(values[n].shape)
            if got != tuple(shape):
                raise ValueError(f"log_joint got a value of shape {got} for random variable '{n}', whose shape is "
                                 f"{tuple(shape)} (for a batch of values, map log_joint with jax.vmap)")
        return built["fn"](*full, *[values[n] for n in names])
    fn.__name__ = f"log_joint_{program.__name__}"
    fn.__ppc_refuse__ = (f"{fn.__name__} (ppc.log_joint) takes latent values by name and runs from Python, so "
                         "it cannot be compiled, differentiated or partitioned; use "
                         "ppc.unconstrained(model, *data).log_density_fn, a compiled function of (theta, *data)")
    return fn


def sample(model, key, *args) -> dict:
    """A dict of draws of every latent random variable, from an explicit PRNG key
    (`jax.random.key(seed)`); conditioned variables keep their data."""
    program = _program(model)
    key = typed_key(key)
    full = list(args) + _data(model)
    spec = program.specialize(*full)  # (names an unhashable static argument before it is a dict key)
    fixed, dynamic = _split_static(program, full)
    which = ("sample",) + tuple((i, type(a), a) for i, a in fixed.items())
    if which not in program.derived:  # (one per program and static values: it compiles once per specialization)
        names = {}

        def build(s, a, k):
            sm, names[id(s)] = sample_module(s.canonical)
            return sm, tuple(Slot(t, False) for t in sm.entry.result_types), ()
        program.derived[which] = (_Fixed(program, build, f"sample_{program.__name__}", fixed, drop_first=1,
                                         models=True), names)
    fn, names = program.derived[which]
    draws = fn(key, *dynamic)
    return dict(zip(names[id(spec)], draws))


def typed_key(key):
    """A typed PRNG key from a typed one or a legacy `jax.random.PRNGKey` (uint32[2], as
    NumPyro's docs use): both name the same stream under JAX's default PRNG."""
    import jax
    import jax.numpy as jnp
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    raw = np.asarray(key)
    if raw.dtype == np.uint32 and raw.shape[-1:] == (2,):
        return jax.random.wrap_key_data(raw)
    raise TypeError(f"expected a PRNG key (jax.random.key(seed)), got {type(key).__name__} "
                    f"{getattr(raw, 'dtype', '')}{list(raw.shape)}")


class Unconstrained:
    """The model's log density as a function of one flat unconstrained vector: what
    gradient-based samplers consume. `log_density(theta)` is a compiled function (and so
    differentiable with ppc.grad); `to_constrained(theta)` maps back to named values.
    `args` are the model's arguments (and data) less its static ones, which the compiled
    functions here have fixed."""

    def __init__(self, model, *args):
        self.program = _program(model)
        full = list(args) + _data(model)
        self.observed = model.observations() if isinstance(model, Model) else {}  # (for ArviZ's observed_data)
        self.spec = self.program.specialize(*full)
        self.fixed, self.args = _split_static(self.program, full)
        (self.layout, self.names, self.sizes, self.size, self.dtype, self._parameters, self._density,
         self._values, self.density_ir) = self.memo("unconstrained", self._build)

    def _build(self):
        """What depends only on the model and its data's types, so a second sampler run on
        the same model reuses it (and the compiled code of everything derived from it)."""
        spec, program = self.spec, self.program
        layout = latent_layout(spec.canonical)
        if not layout:
            raise CompileError("the model has no latent random variables")
        names = [n for n, *_ in layout]
        sizes = [int(np.prod(s, dtype=np.int64)) for _, _, s, *_ in layout]
        pm, _ = parameters_module(spec.canonical)
        parameters = _Fixed(program, lambda s, a, k: (pm, tuple(Slot(t, False) for t in pm.entry.result_types),
                                                      ()), f"parameters_{program.__name__}", self.fixed,
                            drop_last=len(names), models=True)
        density = unconstrained_module(spec.canonical)
        dtype = np.dtype(numpy_dtype(density.entry.params[0].type.dtype))  # theta's
        values = unconstrained_module(spec.canonical, constrained_out=True)
        log_density = _Fixed(program, lambda s, a, k: (density, Slot(density.entry.result_types[0], False), ()),
                             f"log_density_{program.__name__}", self.fixed, drop_first=1, models=True)
        to_constrained = _Fixed(program, lambda s, a, k: (values, tuple(Slot(t, False) for t in
                                                                         values.entry.result_types), ()),
                                f"to_constrained_{program.__name__}", self.fixed, drop_first=1, models=True)
        return layout, names, sizes, sum(sizes), dtype, parameters, log_density, to_constrained, density

    def memo(self, key, make):
        """`make()`, built once per model and data types: samplers keep their compiled
        kernels here, so calling one again on the same model skips ppc's passes and XLA."""
        if key not in self.spec.derived:
            self.spec.derived[key] = make()
        return self.spec.derived[key]

    def observed_sites(self):
        """(compiled (args..., latent values...) -> each observed variable's value and
        parameters, in order; for each output, whether it is fixed: computed from no latent
        value). Built only when a sampler finds the density finite nowhere, to name data
        outside bounds that parameters set."""
        def make():
            from .passes.ad.algebra import dependents
            pm, _ = parameters_module(self.spec.canonical, observed=True)
            body = pm.entry.body
            moving = dependents(body, set(body.params[len(body.params) - len(self.names):]))
            fn = _Fixed(self.program, lambda s, a, k: (pm, tuple(Slot(t, False) for t in pm.entry.result_types),
                                                       ()), f"observed_{self.program.__name__}", self.fixed,
                        drop_last=len(self.names), models=True)
            return fn, [v not in moving for v in body.ops[-1].operands]
        return self.memo("observed_sites", make)

    def log_density(self, theta):
        return self._density(self._theta(theta), *self.args)

    @property
    def log_density_fn(self) -> Compiled:
        """The compiled density, called as (theta, *self.args): for ppc.grad and compiled samplers."""
        return self._density

    def to_constrained(self, theta) -> dict:
        return dict(zip(self.names, self._values(self._theta(theta), *self.args)))

    def to_unconstrained(self, values: dict, check: bool = True) -> np.ndarray:
        """Latent values (dict by name) to theta (interval bounds, which may depend on
        other latents, are computed by the model itself). With `check`, a name that is not
        a latent, a value of the wrong shape or outside its support is an error."""
        from .distributions import DISTRIBUTIONS, inverse_transform
        missing = [n for n in self.names if n not in values]
        if missing:
            raise TypeError(f"to_unconstrained needs a value for '{missing[0]}'")
        unknown = [n for n in values if n not in self.names]
        if check and unknown:
            raise ValueError(f"to_unconstrained: '{unknown[0]}' is not a latent random variable of the model "
                             f"(latent: {', '.join(self.names)})")
        for name, t, *_ in self.layout:
            if check and np.shape(values[name]) != tuple(t.shape):
                raise ValueError(f"to_unconstrained: the value of '{name}' has shape {np.shape(values[name])}; "
                                 f"the variable's is {tuple(t.shape)}")
        params = iter(self._parameters(*self.args, *[values[n] for n in self.names]))
        parts = []
        for (name, t, ushape, support, dist), size in zip(self.layout, self.sizes):
            dist_params = [np.asarray(next(params)) for _ in DISTRIBUTIONS[dist].params]
            with np.errstate(invalid="ignore", divide="ignore"):
                part = np.asarray(inverse_transform(support, values[name], *dist_params)).reshape(size)
            if check and not np.isfinite(part).all():
                raise ValueError(f"to_unconstrained: the value of '{name}' lies outside the support of "
                                 f"{DISTRIBUTIONS[dist].title} ({support})")
            parts.append(part)
        return np.concatenate(parts).astype(self.dtype)

    def _theta(self, theta):
        if np.shape(theta) != (self.size,):
            raise ValueError(f"theta has shape {np.shape(theta)}; the model's unconstrained vector has shape "
                             f"({self.size},): {', '.join(f'{n} takes {s}' for n, s in zip(self.names, self.sizes))}")
        if getattr(theta, "dtype", None) != self.dtype:  # (from Python: a list, or float64 for a float32 model)
            theta = theta.astype(self.dtype) if hasattr(theta, "astype") else np.asarray(theta, self.dtype)
        return theta


def unconstrained(model, *args) -> Unconstrained:
    """The model's log density on a flat unconstrained vector, with the maps between such
    vectors and named constrained values."""
    return Unconstrained(model, *args)


def factor(log_prob, name: str | None = None):
    """Add `log_prob`, summed over its elements, to the model's log density: a likelihood
    no distribution here expresses (a marginalized mixture, a custom density), or a
    penalty. It changes log_joint, unconstrained densities and the samplers' posteriors;
    ppc.sample's draws ignore it (as NumPyro's factor). Run eagerly it does nothing."""
    return None


def _lower_factor(lw, log_prob, name=None):
    if isinstance(log_prob, str):  # numpyro.factor(name, log_factor)'s order
        lw.error("ppc.factor takes the log density first and the name second",
                 f"write ppc.factor(log_prob, name={log_prob!r})")
    return lw.factor(log_prob, name)


register_callable(factor, _lower_factor)


__all__ = ["factor", "Model", "on_backend", "condition", "log_joint", "sample", "unconstrained", "Unconstrained"]
