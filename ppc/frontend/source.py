"""Reading a Python function's source as gast, with positions mapped back to the file."""
from __future__ import annotations

import inspect
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
    code = fn.__code__
    if code in _CACHE:
        return _CACHE[code]
    try:
        lines, start = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or code.co_filename
    except (OSError, TypeError):
        raise CompileError(f"cannot read the source of function '{fn.__name__}'",
                           hint="ppc compiles functions defined in files (or registered with linecache)") from None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
    tree = gast.parse(dedented)
    node = tree.body[0]
    if not isinstance(node, gast.FunctionDef):
        raise CompileError(f"'{fn.__name__}' is not defined with 'def'",
                           SourceLoc(file, start, indent),
                           hint="write the function with 'def' so that ppc can read its body")
    info = SourceInfo(node, file, start - 1, indent)
    _CACHE[code] = info
    return info
