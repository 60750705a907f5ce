"""Golden files: the IR after each stage and the generated source, for every program in
tests/golden/programs. Regenerate with `pytest tests/test_golden.py --update-golden`
and read the diff."""
import pytest

import ppc
from ppc.ir import parse, print_module, verify

from programs import PROGRAMS, ROOT, example_args, load

STAGES = {
    "ir": lambda c, a: print_module(c.ir(*a)),
    "canonical": lambda c, a: print_module(c.canonical_ir(*a)),
    "jax": lambda c, a: c.source(*a),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("name", PROGRAMS)
def test_golden(name, stage, request):
    mod = load(name)
    compiled = ppc.compile(mod.main)
    text = STAGES[stage](compiled, example_args(mod))
    path = ROOT / "expected" / f"{name}.{stage}.txt"
    if request.config.getoption("--update-golden"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run pytest --update-golden"
    assert text == path.read_text(), f"{path} differs; rerun with --update-golden and review the diff"


@pytest.mark.parametrize("name", PROGRAMS)
def test_round_trip_and_verify(name):
    mod = load(name)
    compiled = ppc.compile(mod.main)
    args = example_args(mod)
    for module in (compiled.ir(*args), compiled.canonical_ir(*args)):
        verify(module)
        text = print_module(module)
        again = parse(text)
        assert again == module
        assert print_module(again) == text
        verify(again)


def test_enough_programs():
    assert len(PROGRAMS) >= 25
