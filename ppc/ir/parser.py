"""Reads the printer's text form back into a Module: `parse(print_module(m)) == m`."""
from __future__ import annotations

import base64
import json
import re

import numpy as np

from .core import Function, Module, Op, Region, Value
from .registry import lookup
from .types import TensorType, TupleType, Type, numpy_dtype

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<value>%[A-Za-z_0-9][A-Za-z_0-9.]*)
  | (?P<symbol>@[A-Za-z_][A-Za-z_0-9.]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+|inf\b)|nan\b)
  | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<arrow>->)
  | (?P<punct>[(){}\[\],=:<>])
""", re.VERBOSE)


class ParseError(Exception):
    pass


def _tokenize(text: str):
    pos, toks = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise ParseError(f"line {line}: unexpected character {text[pos]!r}")
        if m.lastgroup != "ws":
            toks.append((m.lastgroup, m.group(), text.count("\n", 0, pos) + 1))
        pos = m.end()
    toks.append(("eof", "", text.count("\n") + 1))
    return toks


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokenize(text)
        self.i = 0
        self.values: dict[str, Value] = {}

    # -- token helpers
    def peek(self, k=0):
        return self.toks[self.i + k]

    def next(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, text):
        return self.peek()[1] == text

    def expect(self, text):
        kind, val, line = self.next()
        if val != text:
            raise ParseError(f"line {line}: expected {text!r}, found {val!r}")

    def accept(self, text) -> bool:
        if self.at(text):
            self.i += 1
            return True
        return False

    def expect_kind(self, kind):
        k, val, line = self.next()
        if k != kind:
            raise ParseError(f"line {line}: expected a {kind}, found {val!r}")
        return val

    # -- grammar
    def module(self) -> Module:
        funcs = []
        while self.peek()[0] != "eof":
            funcs.append(self.function())
        return Module(funcs)

    def function(self) -> Function:
        self.expect("func")
        name = self.expect_kind("symbol")[1:]
        self.values = {}
        params = self.params()
        self.expect("->")
        self.expect("(")
        results = self.type_list(")")
        self.expect(")")
        body = self.region_body(params)
        return Function(name, body, results)

    def params(self) -> list[Value]:
        self.expect("(")
        params = []
        while not self.at(")"):
            params.append(self.define(self.expect_kind("value")))
            self.expect(":")
            params[-1].type = self.type()
            self.accept(",")
        self.expect(")")
        return params

    def define(self, name: str) -> Value:
        if name in self.values:
            raise ParseError(f"value {name} defined twice")
        base = name[1:].split(".")[0]
        v = Value(None, None if base.isdigit() else base)
        self.values[name] = v
        return v

    def use(self) -> Value:
        kind, name, line = self.next()
        if kind != "value" or name not in self.values:
            raise ParseError(f"line {line}: {name!r} is not a defined value")
        return self.values[name]

    def type(self) -> Type:
        name = self.expect_kind("ident")
        if name == "tuple":
            self.expect("<")
            elems = self.type_list(">")
            self.expect(">")
            return TupleType(tuple(elems))
        self.expect("[")
        dims = []
        while not self.at("]"):
            dims.append(int(self.expect_kind("number")))
            self.accept(",")
        self.expect("]")
        return TensorType(tuple(dims), name)

    def type_list(self, close) -> list[Type]:
        types = []
        while not self.at(close):
            types.append(self.type())
            if not self.accept(","):
                break
        return types

    def region_body(self, params) -> Region:
        self.expect("{")
        ops = []
        while not self.accept("}"):
            ops.append(self.op())
        return Region(params, ops)

    def op(self) -> Op:
        results = []
        if self.peek()[0] == "value":
            while True:
                results.append(self.define(self.expect_kind("value")))
                if not self.accept(","):
                    break
            self.expect("=")
        prim_name = self.expect_kind("ident")
        try:
            prim = lookup(prim_name)
        except KeyError as e:
            raise ParseError(f"line {self.peek()[2]}: {e.args[0]}") from None
        operands, attrs = [], {}
        if prim_name == "constant":
            attrs["value"] = self.literal()
        elif prim_name == "call":
            attrs["callee"] = self.expect_kind("symbol")[1:]
            self.expect("(")
            while not self.at(")"):
                operands.append(self.use())
                self.accept(",")
            self.expect(")")
        else:
            if self.peek()[0] == "value":
                operands.append(self.use())
                while self.accept(","):
                    operands.append(self.use())
            if self.at("{"):
                attrs = self.attr_dict()
        if results:
            self.expect(":")
            for r in results:
                r.type = self.type()
                self.accept(",")
        if prim_name == "constant":
            t = results[0].type
            attrs.update(shape=t.shape, dtype=t.dtype)
            attrs["value"] = self.constant_value(attrs["value"], t)
        regions = []
        labels = prim.regions
        while labels and self.at(labels[0]):
            self.expect(labels[0])
            params = self.params() if self.at("(") else []
            regions.append(self.region_body(params))
            labels = labels if prim.variadic_regions else labels[1:]
        if labels and not prim.variadic_regions:
            self.expect(labels[0])
        return Op(prim_name, operands, attrs, results, regions)

    def attr_dict(self) -> dict:
        self.expect("{")
        attrs = {}
        while not self.accept("}"):
            key = self.expect_kind("ident")
            self.expect("=")
            attrs[key] = self.literal()
            self.accept(",")
        return attrs

    def literal(self):
        kind, val, line = self.next()
        if kind == "number":
            if re.fullmatch(r"-?\d+", val):
                return int(val)
            return float(val)
        if kind == "string":
            return json.loads(val)
        if val in ("true", "false"):
            return val == "true"
        if val == "none":
            return None
        if val == "(":
            items = []
            while not self.accept(")"):
                items.append(self.literal())
                self.accept(",")
            return tuple(items)
        if val == "[":
            items = []
            while not self.accept("]"):
                items.append(self.literal())
                self.accept(",")
            return items
        if val == "dense":
            self.expect("<")
            inner = self.literal()
            self.expect(">")
            return ("dense", inner)
        raise ParseError(f"line {line}: expected an attribute value, found {val!r}")

    @staticmethod
    def constant_value(raw, t: TensorType):
        if isinstance(raw, tuple) and len(raw) == 2 and raw[0] == "dense":
            data = raw[1]
            dt = numpy_dtype(t.dtype)
            if isinstance(data, str):
                return np.frombuffer(base64.b64decode(data), dtype=dt).reshape(t.shape).copy()
            return np.asarray(data, dtype=dt).reshape(t.shape)
        return raw


def parse(text: str) -> Module:
    return _Parser(text).module()
