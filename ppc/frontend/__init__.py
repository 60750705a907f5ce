"""Python source -> SSA IR. `lower_entry(fn, args)` specializes `fn` on its arguments."""
from .lower import lower_entry
from .source import function_source

__all__ = ["lower_entry", "function_source"]
