"""What both backends share: IR -> a readable Python module, and loading that module.

Each IR function becomes a Python function returning a tuple; each region of an
`if`/`while`/`switch` becomes a nested function handed to the backend's control-flow
call. Names come from the IR's value names, so the output reads like the user's source.
Every op's expression comes from its primitive's emission template for the backend
(`Primitive.jax`, `Primitive.tf`); a backend is a `Dialect`: its header, the registry
field its templates live in, and the names its generated code reserves.
"""
from __future__ import annotations

import keyword
import linecache
from dataclasses import dataclass

import numpy as np

from ..ir import CompileError, Function, Module, MissingRule, Op, Region, Value, lookup, region_labels
from ..passes.ppl import refuse_model
from ..ir.callgraph import recursive_call

INLINE_CONST_LIMIT = 16  # larger constants are passed in through _consts
GENERATED_NAMES = frozenset({"_consts", "c", "_", "host_while"})  # every backend's code uses these itself


@dataclass(frozen=True)
class Dialect:
    name: str  # the registry field holding this backend's templates, and the ppc-dump stage
    header: str  # module prologue; formatted with {origin} and {regenerate}
    modules: frozenset[str]  # the names the header imports

    @property
    def reserved(self) -> frozenset[str]:
        """Names no IR value or function may take in this dialect's code."""
        return self.modules | GENERATED_NAMES


def safe_name(name: str, reserved) -> str:
    name = name.replace(".", "_")
    if keyword.iskeyword(name) or name in reserved:
        name += "_"
    return name


class Emitter:
    def __init__(self, module: Module, dialect: Dialect):
        self.module, self.dialect = module, dialect
        self.reserved = dialect.reserved
        self.consts: list[np.ndarray] = []
        self.host = False  # emitted host control flow (backends/host.py), which imports host_while
        self.fn_names = {name: self.safe(name) for name in module.functions}

    def safe(self, name: str) -> str:
        return safe_name(name, self.reserved)

    def function(self, fn: Function) -> list[str]:
        self.names: dict[Value, str] = {}
        self.used = set(self.fn_names.values()) | self.reserved
        self.last: dict[str, int] = {}  # per base name, the suffix fresh gave last (smaller ones are taken)
        params = ", ".join(self.define(p) for p in fn.params)
        lines = [f"def {self.fn_names[fn.name]}({params}):"]
        self.region_body(fn.body, "    ", lines)
        return lines

    def define(self, v: Value) -> str:
        name = self.fresh(self.safe(v.hint or "v"))
        self.names[v] = name
        return name

    def fresh(self, base: str) -> str:
        k = self.last.get(base, 0)
        name = f"{base}_{k}" if k else base
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        self.last[base] = k
        return name

    def region_body(self, region: Region, indent: str, lines: list[str]):
        for op in region.ops:
            self.op(op, indent, lines)

    def op(self, op: Op, indent: str, lines: list[str]):
        prim = lookup(op.prim)
        if prim.terminator:
            vals = ", ".join(self.names[v] for v in op.operands)
            lines.append(f"{indent}return ({vals}{',' if len(op.operands) == 1 else ''})")
            return
        args = [self.names[v] for v in op.operands]
        attrs = dict(op.attrs)
        base = op.results[0].hint if op.results and op.results[0].hint else "v"
        for label, region in zip(region_labels(prim, len(op.regions)), op.regions):
            fname = self.fresh(f"_{label}_{self.safe(base)}")
            params = ", ".join(self.define(p) for p in region.params)
            lines.append(f"{indent}def {fname}({params}):")
            self.region_body(region, indent + "    ", lines)
            if prim.variadic_regions:  # the template gets the list of region functions
                attrs.setdefault(label, []).append(fname)
            else:
                attrs[label] = fname
        self.host |= bool(op.attrs.get("host"))
        if op.prim == "call":
            attrs["callee"] = self.fn_names[attrs["callee"]]
        if op.prim == "constant" and isinstance(attrs["value"], np.ndarray) and attrs["value"].size > INLINE_CONST_LIMIT:
            expr = f"_consts[{len(self.consts)}]"
            self.consts.append(attrs["value"])
        else:
            template = getattr(prim, self.dialect.name)
            if template is None:
                raise MissingRule(op.prim, f"{self.dialect.name} emission")
            if isinstance(template, str):
                expr = template.format(*args, args=", ".join(args), **attrs)
            else:  # a callable template also sees its operands' types (a backend may lack a dtype's op)
                expr = template(args, {**attrs, "operand_types": [v.type for v in op.operands]})
        results = [self.define(r) for r in op.results]
        if prim.tuple_result:
            lhs = ", ".join(results) + ("," if len(results) == 1 else "")
            lines.append(f"{indent}{lhs} = {expr}" if results else f"{indent}{expr}")
        else:
            lines.append(f"{indent}{results[0]} = {expr}")


def emit_module(module: Module, dialect: Dialect, origin: str = "",
                regenerate: str | None = None) -> tuple[str, list[np.ndarray]]:
    """The Python source of the module and the large constants it reads from `_consts`;
    the header says how to print it again (`regenerate`; by default the backend's
    ppc-dump stage)."""
    em = Emitter(module, dialect)
    functions = ["\n".join(em.function(fn)) for fn in reversed(list(module.functions.values()))]  # callees first
    header = dialect.header.format(origin=f" from {origin}" if origin else "",
                                   regenerate=regenerate or f"ppc-dump --stage {dialect.name}")
    if em.host:
        header += "from ppc.backends.host import host_while\n"
    return "\n\n".join([header] + functions) + "\n", em.consts


_COUNTER = [0]


def load(source: str, consts, entry: str, dialect: Dialect):
    """Execute generated source; return its entry function (not yet compiled). The source
    is registered with linecache, so tracebacks through generated code show its lines."""
    _COUNTER[0] += 1
    filename = f"<ppc-{dialect.name}-{_COUNTER[0]}:{entry}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"_consts": consts}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[safe_name(entry, dialect.reserved)]


def check_supported(module: Module, backend: str) -> None:
    """Recursion on traced values runs only on the program-counter machine; a model's
    random variables run only through a model transformation."""
    refuse_model(module)
    op = recursive_call(module)
    if op is not None:
        raise CompileError(
            f"'{op.attrs['callee']}' is recursive, and recursion on traced values cannot run on the "
            f"{backend} backend directly", op.loc,
            "batch it with ppc.autobatch(..., strategy='program_counter'), or recurse only on values "
            "known at compile time")
