"""Errors that reach users.

Two kinds, kept apart on purpose: a `CompileError` is the user's program asking for
something ppc does not do (it points at a source line); an `InternalError` is a broken
invariant inside a pass, i.e. a ppc bug (it names the pass and carries the IR).
"""
from __future__ import annotations

import linecache
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLoc:
    file: str
    line: int  # 1-based
    col: int  # 0-based, as Python's ast reports it

    def __str__(self):
        return f"{self.file}:{self.line}:{self.col + 1}"


class CompileError(Exception):
    """The program cannot be compiled; `loc` says where in the user's source."""

    def __init__(self, message: str, loc: SourceLoc | None = None, hint: str | None = None):
        self.message, self.loc, self.hint = message, loc, hint
        super().__init__(self.render())

    def render(self) -> str:
        if self.loc is None:
            text = f"error: {self.message}"
        else:
            text = f"{self.loc}: error: {self.message}"
            line = linecache.getline(self.loc.file, self.loc.line).rstrip("\n")
            if line:
                text += f"\n    {line}\n    {' ' * self.loc.col}^"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InternalError(Exception):
    """A pass broke an IR invariant: a bug in ppc, not in the user's program."""

    def __init__(self, pass_name: str, message: str, ir_text: str | None = None):
        self.pass_name = pass_name
        text = f"internal error in pass '{pass_name}': {message}"
        if ir_text:
            text += "\n--- IR ---\n" + ir_text
        text += "\nThis is a bug in ppc; please report it with the program that triggered it."
        super().__init__(text)
