"""The one textual form of the IR; `parser.parse` reads it back.

    %r = if %small : i32[] then {
      yield %one
    } else {
      ...
    }

Values print as their source names (`%x`, then `%x.1`, `%x.2` when a name repeats in a
function); values with no source name print as numbers.
"""
from __future__ import annotations

import base64
import json

import numpy as np

from .core import Function, Module, Op, Region, Value
from .registry import lookup, region_labels

DENSE_INLINE_LIMIT = 64  # larger constants print as base64 bytes


class _Names:
    def __init__(self):
        self.names: dict[Value, str] = {}
        self.used: set[str] = set()
        self.counter = 0

    def define(self, v: Value) -> str:
        if v.hint:
            name, k = v.hint, 0
            while name in self.used:
                k += 1
                name = f"{v.hint}.{k}"
        else:
            name = str(self.counter)
            self.counter += 1
        self.used.add(name)
        self.names[v] = name
        return "%" + name

    def __getitem__(self, v: Value) -> str:
        try:
            return "%" + self.names[v]
        except KeyError:
            return f"%<undefined {v!r}>"


def format_attr(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, np.ndarray):
        if v.size <= DENSE_INLINE_LIMIT:
            return f"dense<{_format_list(v.tolist())}>"
        return f'dense<"{base64.b64encode(np.ascontiguousarray(v).tobytes()).decode()}">'
    if isinstance(v, (tuple, list)):
        inner = ", ".join(format_attr(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    raise TypeError(f"cannot print attribute value {v!r}")


def _format_list(x) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_format_list(e) for e in x) + "]"
    return format_attr(x)


def _format_op(op: Op, names: _Names, indent: str, out: list[str]):
    prim = lookup(op.prim)
    head = indent
    if op.results:
        head += ", ".join(names.define(r) for r in op.results) + " = "
    operands = ", ".join(names[v] for v in op.operands)
    if op.prim == "constant":
        head += f"constant {format_attr(op.attrs['value'])}"
    elif op.prim == "call":
        head += f"call @{op.attrs['callee']}({operands})"
    else:
        head += op.prim + (" " + operands if operands else "")
        if op.attrs:
            head += " {" + ", ".join(f"{k}={format_attr(v)}" for k, v in op.attrs.items()) + "}"
    if op.results:
        head += " : " + ", ".join(str(r.type) for r in op.results)
    for label, region in zip(region_labels(prim, len(op.regions)), op.regions):
        params = ", ".join(f"{names.define(p)}: {p.type}" for p in region.params)
        head += f" {label}({params}) {{" if region.params else f" {label} {{"
        out.append(head)
        _format_region(region, names, indent + "  ", out)
        head = indent + "}"
    out.append(head)


def _format_region(region: Region, names: _Names, indent: str, out: list[str]):
    for op in region.ops:
        _format_op(op, names, indent, out)


def print_function(fn: Function) -> str:
    names = _Names()
    params = ", ".join(f"{names.define(p)}: {p.type}" for p in fn.params)
    results = ", ".join(str(t) for t in fn.result_types)
    out = [f"func @{fn.name}({params}) -> ({results}) {{"]
    _format_region(fn.body, names, "  ", out)
    out.append("}")
    return "\n".join(out)


def print_module(module: Module) -> str:
    return "\n\n".join(print_function(f) for f in module.functions.values()) + "\n"
