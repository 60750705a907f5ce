"""ppc-dump: print any stage of a function's compilation.

    ppc-dump model.py:log_joint --args 'f32[50],f32[1000,50],f32[1000]' --stage canonical
    ppc-dump prog.py:f --args 'f32[10],int' --passes canonicalize
    ppc-dump model.py:m --args 'f64[8]' --stage unconstrained --observe y
    ppc-dump model.py:log_joint --args 'f32[50],f32[1000,50],f32[1000]' --stage partitioned \
        --grad 0 --mesh batch=4 --tactic tile:X:0:batch --tactic tile:y:0:batch

Argument specs are IR types (`f32[10,3]`, `i32[]`, `tuple<f32[2], f32[2]>`) or the words
`int`, `float`, `bool` for Python scalars (which are weakly typed, as in JAX).
"""
from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import sys
import traceback

import numpy as np

from .ir import CompileError, InternalError, TensorType, TupleType, parse_type, print_module
from .ir.types import numpy_dtype, split_top_level


def _stage_ir(c, args, observe=()):
    return print_module(c.ir(*args))


def _stage_canonical(c, args, observe=()):
    return print_module(c.canonical_ir(*args))


def _source_stage(backend):
    """The generated source of one backend (whichever backend `c` was compiled for)."""
    def stage(c, args, observe=()):
        return c.with_backend(backend).source(*args)
    return stage


def _ad_stage(name):
    def stage(c, args, observe=()):
        from .ad import stage_text
        return stage_text(c, args, name)
    return stage


def _ppl_stage(name):
    def stage(c, args, observe=()):
        from .passes.ppl import condition_module, log_joint_module, sample_module, unconstrained_module
        module = c.canonical_ir(*args)
        if observe:  # conditioned variables become trailing parameters
            module = condition_module(module, list(observe))
        if name == "condition":
            if not observe:
                raise UsageError("--stage condition needs --observe NAME[,NAME]")
            return print_module(module)
        if name == "log_joint":
            return print_module(log_joint_module(module)[0])
        if name == "sample":
            return print_module(sample_module(module)[0])
        return print_module(unconstrained_module(module))
    return stage


def _stage_batched(c, args, observe=()):
    """Local static batching of every array argument, with a batch of 4."""
    from .ir import TensorType as _T
    from .passes import run_passes
    from .passes.batch import batch_module
    module = c.canonical_ir(*args)
    flags = tuple(isinstance(p.type, _T) for p in module.entry.params)
    return print_module(run_passes(batch_module(module, flags, 4), ["canonicalize"]))


def _stage_pc(c, args, observe=()):
    """The program-counter machine's blocks and storage, every array argument batched (4)."""
    from .ir import TensorType as _T
    from .passes.pc import DEFAULT_MAX_STACK_DEPTH, format_program, lower_to_blocks
    module = c.canonical_ir(*args)
    flags = [isinstance(p.type, _T) for p in module.entry.params]
    return format_program(lower_to_blocks(module, flags, 4), DEFAULT_MAX_STACK_DEPTH)


def _stage_partitioned(c, args, observe=(), mesh=None, tactics=()):
    """The per-device program under a strategy, and what the simulator predicts for it."""
    from .partition import apply
    if mesh is None:
        raise UsageError("--stage partitioned needs --mesh AXIS=SIZE[,AXIS=SIZE] and --tactic options")
    p = apply(c, list(tactics), mesh)
    r = p.simulate(*args)
    moved = ", ".join(f"{k} {v} B" for k, v in r.collective_bytes().items() if v) or "none"
    return (p.dump(*args) + f"// simulated per device: {r.flops:.0f} flops, {r.transcendentals:.0f} "
            f"transcendentals, peak {r.peak_bytes} B; collectives: {moved}\n")


def parse_mesh(text: str):
    """`batch=4,model=2` -> Mesh."""
    from .partition import Mesh
    axes = {}
    for part in text.split(","):
        name, eq, size = part.partition("=")
        if not eq or not size.strip().isdigit():
            raise ValueError(f"expected AXIS=SIZE[,AXIS=SIZE], got {text!r}")
        if name.strip() in axes:
            raise ValueError(f"mesh axis {name.strip()!r} is given twice in {text!r}")
        axes[name.strip()] = int(size)
    return Mesh(axes)


def parse_tactic(text: str):
    """`tile:NAME:DIM:AXIS` or `replicate:NAME` -> a tactic."""
    from .partition import replicate, tile
    kind, *rest = text.split(":")
    if kind == "tile" and len(rest) == 3 and rest[1].isdigit():
        return tile(rest[0], int(rest[1]), rest[2])
    if kind == "replicate" and len(rest) == 1:
        return replicate(rest[0])
    raise ValueError(f"expected tile:NAME:DIM:AXIS or replicate:NAME, got {text!r}")


STAGES = {"ir": _stage_ir, "partitioned": _stage_partitioned, "batched": _stage_batched, "pc": _stage_pc,
          "canonical": _stage_canonical,
          "jax": _source_stage("jax"), "tf": _source_stage("tf"),
          **{name: _ad_stage(name) for name in ("jvp", "linear", "transpose", "grad")},
          **{name: _ppl_stage(name) for name in ("condition", "log_joint", "sample", "unconstrained")}}
# Stages that take a model (a function with random variables) as it is; the others refuse one,
# as the Python API does, since running, differentiating or batching a model has no meaning.
MODEL_STAGES = ("condition", "log_joint", "sample", "unconstrained")
SHOWS_MODELS = ("ir", "canonical") + MODEL_STAGES


class UsageError(ValueError):
    """Bad input on the command line or in the target file: a usage message and exit code 2."""


def example_argument(spec: str):
    """An argument of the type `spec` names (zeros: only the type matters)."""
    spec = spec.strip()
    if spec in ("int", "float", "bool"):
        return {"int": 0, "float": 0.0, "bool": False}[spec]
    return _example(parse_type(spec))


def _example(t):
    if isinstance(t, TupleType):
        return tuple(_example(e) for e in t.elements)
    assert isinstance(t, TensorType)
    if t.dtype == "key":
        import jax
        key = jax.random.key(0)
        return jax.random.split(key, t.shape) if t.shape else key
    return np.zeros(t.shape, numpy_dtype(t.dtype))


def load_function(target: str):
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"expected FILE.py:FUNCTION, got {target!r}")
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a Python file")
    mod_name = "_ppc_dump_" + os.path.splitext(os.path.basename(path))[0]
    # (an explicit loader, so a file not named .py loads too rather than giving no spec)
    spec = importlib.util.spec_from_file_location(mod_name, path,
                                                  loader=importlib.machinery.SourceFileLoader(mod_name, path))
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        del sys.modules[mod_name]
        raise UsageError(f"{e.filename or path}:{e.lineno}: syntax error: {e.msg}") from None
    except (Exception, SystemExit) as e:  # (SystemExit: a script that exits when imported)
        del sys.modules[mod_name]
        raise UsageError(f"{_where(e, path)}: importing it raised {type(e).__name__}: {e}") from None
    fn = getattr(module, name, None)
    if fn is None:
        raise UsageError(f"{path} defines no function {name!r}")
    return fn


def _where(e: BaseException, path: str) -> str:
    """`path:LINE` of the last line of `path` that the exception passed through."""
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__)
             if os.path.abspath(f.filename) == os.path.abspath(path)]
    return f"{path}:{lines[-1]}" if lines else path


def _positions(option: str, text: str, specs: list[str]) -> list[int]:
    """The argument positions `option` names (comma-separated), each one of the --args."""
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated integers, got {text!r}") from None
    for i in out:
        if not 0 <= i < len(specs):
            raise UsageError(f"{option} {i} is out of range: --args gives {len(specs)} argument(s)")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="ppc-dump", description="Print a stage of ppc's compilation of a function.")
    p.add_argument("target", help="FILE.py:FUNCTION")
    p.add_argument("--args", default="", help="argument types, e.g. 'f32[10],i32[]' (or int/float/bool)")
    p.add_argument("--stage", default="canonical", choices=sorted(STAGES), help="what to print (default: canonical)")
    p.add_argument("--passes", default=None, help="comma-separated passes to run on the frontend IR instead of --stage")
    p.add_argument("--static", default="", help="comma-separated positions of static arguments (int, float or bool)")
    p.add_argument("--observe", default="", help="random variables to condition on (model stages), comma-separated")
    p.add_argument("--mesh", default=None, help="stage partitioned: the device mesh, e.g. batch=4,model=2")
    p.add_argument("--tactic", action="append", default=[],
                   help="stage partitioned: tile:NAME:DIM:AXIS or replicate:NAME, applied in order (repeat it)")
    p.add_argument("--grad", type=int, default=None, metavar="ARGNUM",
                   help="stage partitioned: partition ppc.grad(f, argnums=ARGNUM) instead of f")
    ns = p.parse_args(argv)
    # The one place errors become messages: bad input is a usage error (exit code 2), a
    # program ppc cannot compile its source-located error (exit code 1). Anything else is a
    # bug in ppc, and shows its traceback.
    try:
        text = _dump(ns)
    except UsageError as e:
        p.error(str(e))
    except (CompileError, InternalError) as e:
        print(str(e), file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def _dump(ns) -> str:
    from . import compile as ppc_compile
    from .passes import PASSES, run_passes
    from .passes.ppl import refuse_model
    specs = split_top_level(ns.args) if ns.args.strip() else []
    try:
        args = [example_argument(s) for s in specs]
    except ValueError as e:
        raise UsageError(f"--args: {e}") from None
    static = _positions("--static", ns.static, specs)
    for i in static:
        if specs[i].strip() not in ("int", "float", "bool"):
            raise UsageError(f"--static {i}: a static argument is a Python scalar (int, float or bool), "
                             f"not {specs[i].strip()!r}")
    extra = {}
    if ns.stage == "partitioned":
        try:
            extra = {"mesh": parse_mesh(ns.mesh) if ns.mesh else None,
                     "tactics": [parse_tactic(t) for t in ns.tactic]}
        except ValueError as e:
            raise UsageError(str(e)) from None
    elif ns.mesh or ns.tactic or ns.grad is not None:
        raise UsageError("--mesh, --tactic and --grad go with --stage partitioned")
    if ns.grad is not None:
        _positions("--grad", str(ns.grad), specs)
        if ns.grad in static:
            raise UsageError(f"--grad {ns.grad}: cannot differentiate with respect to static argument {ns.grad}")
    passes = [s.strip() for s in ns.passes.split(",") if s.strip()] if ns.passes else None
    if passes:
        unknown = [s for s in passes if s not in PASSES]
        if unknown:
            raise UsageError(f"unknown pass {unknown[0]!r}; known passes: {', '.join(sorted(PASSES))}")
    observe = [n.strip() for n in ns.observe.split(",") if n.strip()]
    if observe and (passes or ns.stage not in MODEL_STAGES):
        raise UsageError(f"--observe goes with the model stages ({', '.join(MODEL_STAGES)})")
    fn = load_function(ns.target)
    try:
        compiled = ppc_compile(fn, static_argnums=static)
    except (TypeError, ValueError) as e:  # not a function ppc compiles (a class, a number, a partitioned one)
        raise UsageError(f"{ns.target}: {e}") from None
    if passes:
        return print_module(run_passes(compiled.ir(*args), passes, verify_each=True))
    if ns.stage not in SHOWS_MODELS:
        refuse_model(compiled.canonical_ir(*args))
    if ns.grad is not None:
        from .ad import grad
        compiled = grad(compiled, argnums=ns.grad)
    return STAGES[ns.stage](compiled, args, observe=observe, **extra)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
