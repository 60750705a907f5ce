"""Reading a Python function's source as gast, with positions mapped back to the file."""
from __future__ import annotations

import dis
import inspect
import linecache
import textwrap
from dataclasses import dataclass

import gast

from ..ir import CompileError, SourceLoc


@dataclass
class SourceInfo:
    node: gast.FunctionDef
    file: str
    line_offset: int  # add to a node's lineno to get the file's line
    col_offset: int  # add to a node's col_offset (indentation removed by dedent)

    def loc(self, node) -> SourceLoc:
        return SourceLoc(self.file, getattr(node, "lineno", 1) + self.line_offset,
                         getattr(node, "col_offset", 0) + self.col_offset)


_CACHE: dict = {}


def function_source(fn) -> SourceInfo:
    """The `def` of `fn`; a lambda's source reads as `def <lambda>(args): return body`."""
    code = fn.__code__
    if code in _CACHE:
        return _CACHE[code]
    try:
        lines, start = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or code.co_filename
    except (OSError, TypeError):
        raise CompileError(f"cannot read the source of function '{fn.__name__}'",
                           hint="ppc compiles functions defined in files (or registered with linecache)") from None
    if code.co_name == "<lambda>":
        info = _lambda_source(code, file)
    else:
        info = _def_source(fn, lines, start, file)
    _CACHE[code] = info
    return info


def _def_source(fn, lines, start, file) -> SourceInfo:
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
    node = gast.parse(dedented).body[0]
    if not isinstance(node, gast.FunctionDef):
        raise CompileError(f"'{fn.__name__}' is not defined with 'def'", SourceLoc(file, start, indent),
                           hint="write the function with 'def' so that ppc can read its body")
    return SourceInfo(node, file, start - 1, indent)


def _lambda_source(code, file) -> SourceInfo:
    """A lambda's source is only its lines, which need not parse alone (a lambda in a dict
    or call spans part of a statement), so the whole file is parsed and the lambda found
    by its line, its parameter names and the source spans of its instructions."""
    try:
        tree = gast.parse("".join(linecache.getlines(file)))
    except SyntaxError:
        tree = None
    lam = _find_lambda(tree, code) if tree is not None else None
    if lam is None:
        raise CompileError("cannot tell this lambda's source apart from the code around it",
                           SourceLoc(file, code.co_firstlineno, 0),
                           hint="write the function with 'def' so that ppc can read its body")
    ret = gast.copy_location(gast.Return(value=lam.body), lam.body)
    node = gast.FunctionDef(name="<lambda>", args=lam.args, body=[ret], decorator_list=[], returns=None,
                            type_comment=None, type_params=[])
    return SourceInfo(gast.copy_location(node, lam), file, 0, 0)


def _find_lambda(tree, code):
    """The lambda node that compiled to `code`: on its first line, with its parameters,
    spanning its instructions; of nested candidates, the innermost. None if not one."""
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    spans = [i.positions for i in dis.get_instructions(code)
             if i.positions.lineno is not None
             and (i.positions.end_lineno, i.positions.end_col_offset) > (i.positions.lineno, i.positions.col_offset)]
    found = [n for n in gast.walk(tree) if isinstance(n, gast.Lambda) and n.lineno == code.co_firstlineno
             and tuple(a.id for a in n.args.posonlyargs + n.args.args + n.args.kwonlyargs) == names
             and all(_within(p, n.body) for p in spans)]
    inner = [n for n in found if all(_within(n.body, m.body) for m in found)]
    return inner[0] if len(inner) == 1 else None


def _within(a, b) -> bool:
    """Whether source span `a` lies in span `b` (AST nodes and instruction positions alike)."""
    return ((b.lineno, b.col_offset) <= (a.lineno, a.col_offset)
            and (a.end_lineno, a.end_col_offset) <= (b.end_lineno, b.end_col_offset))
