"""The IR on its own: types, printer/parser round trip, verifier, registry."""
import numpy as np
import pytest

from ppc.ir import (REGISTRY, Builder, Function, MissingRule, Module, Op, Region, TensorType,
                    TupleType, Value, VerifyError, declare, lookup, parse, parse_type, print_module,
                    rule, scalar, verify)

f32, i32, b = scalar("f32"), scalar("i32"), scalar("bool")


@pytest.mark.parametrize("text", ["f32[10,3]", "i32[]", "bool[4]", "key[]", "key[2]", "f64[1,2,3]",
                                  "tuple<f32[2], i32[]>", "tuple<tuple<f32[]>, key[]>"])
def test_type_round_trip(text):
    assert str(parse_type(text)) == text


@pytest.mark.parametrize("text", ["f33[2]", "f32", "f32[-1]", "tuple<f32[]", "x[1]"])
def test_bad_types(text):
    with pytest.raises(ValueError):
        parse_type(text)


def fib_module() -> Module:
    """fib with fib(0)=fib(1)=1, built by hand: a recursive call inside an if."""
    n = Value(i32, "n")
    body = Region([n])
    bb = Builder(body)
    two = bb.constant(2, i32)
    small = bb.op("lt", [n, two], "small")
    then = Region()
    one = Builder(then).constant(1, i32, "one")
    then.ops.append(Op("yield", [one], {}, []))
    els = Region()
    eb = Builder(els)
    n1 = eb.op("sub", [n, eb.constant(1, i32)], "n1")
    n2 = eb.op("sub", [n, two], "n2")
    a = Value(i32, "a")
    c = Value(i32, "c")
    eb.append(Op("call", [n1], {"callee": "fib"}, [a]))
    eb.append(Op("call", [n2], {"callee": "fib"}, [c]))
    s = eb.op("add", [a, c], "sum")
    els.ops.append(Op("yield", [s], {}, []))
    r = Value(i32, "r")
    body.ops.append(Op("if", [small], {}, [r], [then, els]))
    body.ops.append(Op("return", [r], {}, []))
    return Module([Function("fib", body, [i32])])


def loop_module() -> Module:
    """A while loop with a tuple parameter, a large constant and special floats."""
    t = Value(TupleType((TensorType((3,), "f32"), f32)), "state")
    body = Region([t])
    bb = Builder(body)
    v = Value(TensorType((3,), "f32"), "v")
    s = Value(f32, "s")
    bb.append(Op("tuple_get", [t], {"index": 0}, [v]))
    bb.append(Op("tuple_get", [t], {"index": 1}, [s]))
    big = bb.constant(np.arange(100, dtype=np.float32).reshape(10, 10), TensorType((10, 10), "f32"), "table")
    special = bb.constant(np.array([np.nan, np.inf, -np.inf], np.float32), TensorType((3,), "f32"), "special")
    zero = bb.constant(0, i32)
    cond = Region([Value(i32, "k"), Value(f32, "acc")])
    cb = Builder(cond)
    lim = cb.constant(10, i32)
    cond.ops.append(Op("yield", [cb.op("lt", [cond.params[0], lim])], {}, []))
    loop_body = Region([Value(i32, "k"), Value(f32, "acc")])
    lb = Builder(loop_body)
    k1 = lb.op("add", [loop_body.params[0], lb.constant(1, i32)], "k")
    acc = lb.op("add", [loop_body.params[1], s], "acc")
    loop_body.ops.append(Op("yield", [k1, acc], {}, []))
    res = [Value(i32, "k"), Value(f32, "acc")]
    body.ops.append(Op("while", [zero, bb.constant(-1.5e-7, f32)], {"trip_count": 10}, res, [cond, loop_body]))
    total = bb.op("reduce_sum", [big], "total", axes=(0, 1))
    out = bb.op("add", [total, res[1]])
    vs = bb.op("add", [v, special])
    body.ops.append(Op("return", [out, vs], {}, []))
    return Module([Function("loop", body, [f32, TensorType((3,), "f32")])])


@pytest.mark.parametrize("make", [fib_module, loop_module])
def test_print_parse_round_trip(make):
    m = make()
    verify(m)
    text = print_module(m)
    again = parse(text)
    assert again == m
    assert print_module(again) == text
    verify(again)


def test_printer_uses_source_names():
    text = print_module(fib_module())
    assert "%small = lt %n, %0 : bool[]" in text
    assert "%a = call @fib(%n1) : i32[]" in text
    assert "} else {" in text


def test_structural_equality_detects_differences():
    m1, m2 = fib_module(), fib_module()
    assert m1 == m2
    m2.entry.body.ops[0].attrs["value"] = 3
    assert m1 != m2


def _broken(mutate) -> Module:
    m = fib_module()
    mutate(m.entry)
    return m


@pytest.mark.parametrize("mutate,message", [
    (lambda f: f.body.ops.insert(0, f.body.ops.pop(1)), "not defined before use"),
    (lambda f: f.body.ops.insert(1, f.body.ops[0]), "defined more than once"),
    (lambda f: setattr(f.body.ops[1].results[0], "type", i32), "rule says"),
    (lambda f: f.body.ops.pop(), "does not end in 'return'"),
    (lambda f: f.body.ops[2].regions[0].ops.pop(), "does not end in 'yield'"),
    (lambda f: setattr(f, "result_types", [f32]), "does not match its signature"),
    (lambda f: next(op for op in f.body.ops[2].regions[1].ops if op.prim == "call").attrs.update(callee="nope"),
     "unknown function @nope"),
    (lambda f: f.body.ops[2].operands.__setitem__(0, f.params[0]), r"one bool\[\] predicate"),
    (lambda f: f.body.ops[2].regions[0].ops.insert(0, Op("return", [], {}, [])), "in the middle"),
])
def test_verifier_catches(mutate, message):
    with pytest.raises(VerifyError, match=message):
        verify(_broken(mutate))


def test_verifier_checks_while_structure():
    m = loop_module()
    while_op = next(op for op in m.entry.body.ops if op.prim == "while")
    while_op.regions[1].ops[-1].operands.reverse()
    with pytest.raises(VerifyError, match="'while' body yields"):
        verify(m)


def test_missing_rule_names_primitive_and_stage():
    declare("test_only_prim", lambda x: [x])
    try:
        with pytest.raises(MissingRule, match="primitive 'test_only_prim' has no jax rule"):
            rule("test_only_prim", "jax")
    finally:
        del REGISTRY["test_only_prim"]


def test_every_primitive_has_jax_and_tf_emission_and_shape_rule():
    control = {"if", "while", "call", "switch", "yield", "return"}
    for name, prim in REGISTRY.items():
        if prim.terminator or prim.effect:  # random variables are rewritten before emission
            continue
        assert prim.jax is not None, f"primitive '{name}' has no JAX emission"
        assert prim.tf is not None or prim.collective, f"primitive '{name}' has no TF emission"
        if name not in control:
            assert prim.infer is not None, f"primitive '{name}' has no shape rule"


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_emitting_a_primitive_without_a_rule_names_it_and_the_backend(backend):
    from ppc.backends.emit import emit_module
    from ppc.backends.jax.emit import DIALECT as JAX
    from ppc.backends.tf.emit import DIALECT as TF
    dialect = {"jax": JAX, "tf": TF}[backend]
    other = {"jax": "tf", "tf": "jax"}[backend]
    declare("test_half_emitted", lambda x: [x], **{other: "{0}"})
    try:
        x = Value(TensorType((), "f32"), "x")
        body = Region([x])
        y = Builder(body).op("test_half_emitted", [x])
        body.ops.append(Op("return", [y], {}, []))
        with pytest.raises(MissingRule, match=f"primitive 'test_half_emitted' has no {backend} emission rule"):
            emit_module(Module([Function("f", body, [x.type])]), dialect)
    finally:
        del REGISTRY["test_half_emitted"]


def test_declaring_twice_is_an_error():
    with pytest.raises(ValueError, match="declared twice"):
        declare("add", lambda x, y: [x])


def test_unknown_primitive_is_a_parse_error():
    from ppc.ir import ParseError
    with pytest.raises(ParseError, match="unknown primitive 'frobnicate'"):
        parse("func @f(%x: f32[]) -> (f32[]) {\n  %y = frobnicate %x : f32[]\n  return %y\n}\n")


def test_shape_rules_reject_bad_operands():
    from ppc.ir import ShapeError, infer_types
    with pytest.raises(ShapeError, match="differ"):
        infer_types("add", [TensorType((3,), "f32"), TensorType((4,), "f32")], {})
    with pytest.raises(ShapeError, match="cannot contract"):
        infer_types("dot_general", [TensorType((3, 4), "f32"), TensorType((3,), "f32")],
                    {"contract": ((1,), (0,)), "batch": ((), ())})
    with pytest.raises(ShapeError, match="floating-point"):
        infer_types("exp", [TensorType((3,), "i32")], {})
    assert lookup("dot_general").infer(TensorType((2, 3, 4), "f32"), TensorType((2, 4, 5), "f32"),
                                       contract=((2,), (1,)), batch=((0,), (0,))) == [TensorType((2, 3, 5), "f32")]
