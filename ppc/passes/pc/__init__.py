"""Program-counter autobatching (Radul, Patton, Maclaurin, Hoffman and Saurous,
"Automatically Batching Control-Intensive Programs for Modern Accelerators", MLSys 2020).

Local static batching (passes/batch.py) keeps the program's structure, so members wait
for each other at every branch and loop, and recursion on traced values cannot be staged
at all. Here the program becomes a machine: functions are cut into basic blocks
(blocks.py), each member has its own program counter and frame depth, and one `while`
loop steps the machine (machine.py), each step running one block for the members whose
program counter is there. Recursion runs on explicit stacks, so the whole run is one
XLA program.

Scheduling: blocks are numbered cheapest first. Each step runs the cheaper block most
members are at, so members move through their bookkeeping together, while the costliest
block (a gradient evaluation) waits until it holds 7/8 of the running members, or half
of them when its work is small against what every step writes (machine.py, `schedule`
and `gather`).
"""
from __future__ import annotations

from ...ir import Module
from .blocks import Program, format_program, lower_to_blocks
from .machine import build_machine

DEFAULT_MAX_STACK_DEPTH = 128


def machine_module(module: Module, input_batched, size: int, max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH,
                   squeeze: bool = False) -> tuple[Module, Program]:
    """The machine for a canonical module (entry parameters batched as `input_batched`
    says), and the block program it runs."""
    prog = lower_to_blocks(module, input_batched, size)
    return build_machine(prog, size, max_stack_depth, squeeze), prog


__all__ = ["DEFAULT_MAX_STACK_DEPTH", "Program", "format_program", "lower_to_blocks", "machine_module"]
