"""The compiled step (make_step / loss_and_grads_into): same values, reused arrays."""

import re
import tracemalloc

import numpy as np
import pytest

from symgrad import Spec, derive, render_module
from symgrad.check.numeric import load_module
from symgrad.emit.step import out_form
from symgrad.emit.printers import NumpyPrinter
from symgrad.ir import Apply, Const, Var, dim
from symgrad.rules import RULES, apply
from symgrad.spec import load_spec

from conftest import BUNDLED, FOREIGN_TOML

BODIES = {   # batch MLPs in row layout, as the benchmarks use them
    "relu_mse": ({"H": "relu(X @ W1 + b1)", "Z": "H @ W2 + b2"}, "mse(Z, Y)"),
    "sigmoid_bce": ({"H": "sigmoid(X @ W1 + b1)", "P": "sigmoid(H @ W2 + b2)"}, "bce(P, Y)"),
    "softmax_ce": ({"H": "tanh(X @ W1 + b1)", "Z": "H @ W2 + b2"}, "cross_entropy(Z, Y)"),
}


def batch_spec(net, width_in=5, hidden=7, width_out=4):
    nodes, loss = BODIES[net]
    return Spec(name=net, inputs={"X": ["n", width_in], "Y": ["n", width_out]},
                params={"W1": [width_in, hidden], "b1": [hidden], "W2": [hidden, width_out], "b2": [width_out]},
                nodes=dict(nodes), loss=loss)


def all_specs(tmp_path):
    foreign = tmp_path / "foreign.toml"
    foreign.write_text(FOREIGN_TOML)
    return {**{n: n for n in BUNDLED}, "foreign": str(foreign), **{n: batch_spec(n) for n in BODIES}}


SPEC_IDS = list(BUNDLED) + ["foreign"] + list(BODIES)


def module_and_data(name, tmp_path, batch=6, dtype=np.float64, seed=0):
    spec = all_specs(tmp_path)[name]
    module = load_module(render_module(derive(spec)), f"m_{name}")
    rng = np.random.default_rng(seed)

    def shape(s):
        return tuple(batch if isinstance(d, str) else d for d in s)

    params = {k: rng.standard_normal(shape(s)).astype(dtype) for k, s in module.PARAMS.items()}
    # inputs in (0.1, 0.9): valid targets for every loss (bce, one-hot-like rows); labels and
    # indices are integers below their bound
    kinds = (spec if isinstance(spec, Spec) else load_spec(spec)).kinds

    def value(k, s):
        kind = kinds.get(k)
        if kind is not None and kind.integer:
            return rng.integers(0, kind.bound if isinstance(kind.bound, int) else batch, shape(s))
        return rng.uniform(0.1, 0.9, shape(s)).astype(dtype)

    inputs = {k: value(k, s) for k, s in module.INPUTS.items()}
    return module, params, inputs


@pytest.mark.parametrize("name", SPEC_IDS)
def test_step_equals_loss_and_grads(name, tmp_path):
    module, params, inputs = module_and_data(name, tmp_path)
    loss, grads = module.loss_and_grads(params, inputs)
    step = module.make_step()     # scalar code for a tiny fixed-size net, else the array step
    workspace = module.Workspace()
    for _ in range(2):      # the second call runs in the reused workspace
        for step_loss, step_grads in (step(params, inputs),
                                      module.loss_and_grads_into(params, inputs, workspace)):
            assert step_loss == pytest.approx(loss, rel=1e-12)
            for p in params:     # the step returns parameter gradients only (not a spec's extra adjoints)
                assert np.shape(step_grads[p]) == np.shape(grads[p])
                np.testing.assert_allclose(step_grads[p], grads[p], rtol=1e-10, atol=1e-13, err_msg=p)


@pytest.mark.parametrize("name, expected", [("pset3", True), ("hw1_relu_sigmoid_bce", True),
                                            ("multiclass", True), ("titanic", False)])
def test_scalar_code_only_for_fixed_small_nets(name, expected, tmp_path):
    """multiclass has a softmax (its scalar form subtracts the maximum); titanic a symbolic batch size."""
    module, _, _ = module_and_data(name, tmp_path)
    assert hasattr(module, "loss_and_grads_scalar") == expected


@pytest.mark.parametrize("name", list(BODIES))
def test_step_follows_a_new_batch_size(name, tmp_path):
    module, params, inputs = module_and_data(name, tmp_path, batch=6)
    step = module.make_step()
    step(params, inputs)
    _, params, inputs = module_and_data(name, tmp_path, batch=11, seed=1)
    loss, grads = module.loss_and_grads(params, inputs)
    step_loss, step_grads = step(params, inputs)
    assert step_loss == pytest.approx(loss, rel=1e-12)
    for p in grads:
        np.testing.assert_allclose(step_grads[p], grads[p], rtol=1e-10, err_msg=p)


@pytest.mark.parametrize("name", list(BODIES))
def test_step_reuses_its_arrays(name, tmp_path):
    module, params, inputs = module_and_data(name, tmp_path, batch=4096)
    step = module.make_step()
    _, first = step(params, inputs)
    tracemalloc.start()
    _, second = step(params, inputs)
    _, peak_second = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert all(first[p] is second[p] for p in first)
    # numpy may cast a 0/1 mask through its fixed-size ufunc buffer (8192 entries), nothing more
    half_an_activation = 4096 * 7 * 8 // 2
    assert peak_second < half_an_activation, f"a reused step allocated {peak_second} bytes"


def _ops():
    """(op name, Apply node over Vars a, b, random arguments) for every out= form: each
    rule's ``numpy_out``, the step's internal rules included."""
    rng = np.random.default_rng(3)
    a = Var("a", (dim(4), dim(5)), "input")
    b = Var("b", (dim(4), dim(5)), "input")
    m = Var("m", (dim(5), dim(3)), "input")
    values = {"a": rng.uniform(0.2, 2.0, (4, 5)), "b": rng.uniform(0.2, 2.0, (4, 5)) - 1,
              "m": rng.standard_normal((5, 3))}
    cases = []
    with_forms = [r.name for r in RULES if r.numpy_out is not None]
    assert {"add", "matmul", "sum", "relu", "step", "log_softmax"} <= set(with_forms)
    for op in sorted(with_forms):
        if op in ("add", "sub", "mul", "div"):
            node = apply(op, a, b)
        elif op == "pow":
            cases.append((op + "3", Apply("pow", (b,), (("exponent", 3),), b.shape), values))
            node = Apply("pow", (b,), (("exponent", 2),), b.shape)
        elif op == "matmul":
            node = apply("matmul", b, m)
        elif op == "sum":    # of a value the step computes: BLAS products with a ones vector
            computed = Var("b", b.shape)
            cases.append(("sum_keepdims", apply("sum", computed, axis=1, keepdims=True), values))
            cases.append(("sum_all_keepdims", apply("sum", computed, keepdims=True), values))
            cases.append(("sum_rows", apply("sum", computed, axis=1), values))
            cases.append(("sum_columns_keepdims", apply("sum", computed, axis=0, keepdims=True), values))
            cases.append(("sum_columns", apply("sum", computed, axis=0), values))
            node = apply("sum", b, axis=0)    # of an input: np.add.reduce
        elif op in ("softmax", "log_softmax"):
            node = apply(op, b, axis=1)
        elif op in ("min0", "sigmoid_neg"):   # internal to the step
            node = Apply(op, (b,), (), b.shape)
        elif op == "log1p":
            node = Apply(op, (a,), (), a.shape)
        elif op == "scaled_recip_1p":   # c / (1 + t), the logistic parts' common factor
            node = Apply(op, (a, Const(dim("n") / 4)), (), a.shape)
        elif op == "max":    # internal to the step (log_softmax's parts), checked against np.max
            node = Apply("max", (b,), (("axis", 1), ("keepdims", True)), (dim(4), dim(1)))
        elif op == "broadcast_to":    # a scalar, and a column (a row sum's gradient)
            column = Var("c", (dim(4), dim(1)), "input")
            cases.append(("broadcast_to_column", Apply("broadcast_to", (column,), (("shape", a.shape),), a.shape),
                          {**values, "c": rng.standard_normal((4, 1))}))
            node = Apply("broadcast_to", (Const(dim("n") / 4),), (("shape", a.shape),), a.shape)
        else:
            node = apply(op, a if op == "log" else b)
        cases.append((op, node, values))
    return cases


@pytest.mark.parametrize("op, node, values", _ops(), ids=[c[0] for c in _ops()])
def test_out_form_agrees_with_the_rule_numpy_form(op, node, values):
    from symgrad import runtime
    printer = NumpyPrinter()
    names = {**vars(runtime), "np": np, "n": 4, **values}
    if op == "max":
        expected = np.max(values["b"], axis=1, keepdims=True)
    elif op == "log1p":
        expected = np.log(1 + values["a"])
    elif op == "scaled_recip_1p":  # n = 4 in names: c = 1
        expected = 1 / (1 + values["a"])
    elif op == "min0":
        expected = np.where(values["b"] < 0, values["b"], 0.0)
    elif op == "sigmoid_neg":     # sigmoid(-x) = e^-x / (1 + e^-x)
        expected = np.exp(-values["b"]) / (1 + np.exp(-values["b"]))
    else:
        expected = eval(printer.doprint(node), names)   # noqa: S307 -- code symgrad printed itself
    form = out_form(node.op)
    out = np.empty(node.shape and tuple(int(d) for d in node.shape), bool if form.kind == "bool" else float)
    scratch = {f"s{i}": np.empty_like(out, dtype=float) for i in range(form.scratch)}
    constant = form.constant(node) if form.constant else None
    if constant:
        shape, fill = constant
        scratch["constant"] = (np.ones if fill == "ones" else np.zeros)(tuple(int(d) for d in shape))
    lines = form.code([printer.doprint(x) for x in node.args], node, "out", list(scratch), printer)
    exec("\n".join(lines), {**names, "out": out, **scratch})   # noqa: S102
    np.testing.assert_allclose(out.astype(float), np.asarray(expected, dtype=float), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("logit", [50.0, -50.0, 500.0, -500.0])
def test_step_keeps_the_stable_fused_backward_at_saturated_logits(logit, tmp_path):
    """Sigmoid + BCE: the step matches the fused plain backward (which keeps the tiny
    gradient of a confident, right prediction) with overflow/invalid/divide raised."""
    module = load_module(render_module(derive(batch_spec("sigmoid_bce"))), "sat_step")
    rng = np.random.default_rng(0)
    spec = batch_spec("sigmoid_bce")
    shapes = {n: tuple(6 if isinstance(d, str) else d for d in shape)
              for n, shape in {**spec.params, **spec.inputs}.items()}
    params = {n: rng.standard_normal(shapes[n]) for n in spec.params}
    inputs = {n: rng.standard_normal(shapes[n]) for n in spec.inputs}
    last_w = [n for n in spec.params if len(shapes[n]) == 1][-1]     # the output bias
    params[last_w] = np.full(shapes[last_w], logit)                     # saturate every logit
    targets = [n for n in spec.inputs if n != "X"][0]
    inputs[targets] = (rng.random(shapes[targets]) < 0.5).astype(float)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss, grads = module.loss_and_grads(params, inputs)
        step_loss, step_grads = module.make_step()(params, inputs)
    assert np.isfinite(loss) and step_loss == pytest.approx(loss, rel=1e-12)
    for p in grads:
        np.testing.assert_allclose(step_grads[p], grads[p], rtol=1e-9, atol=0, err_msg=p)


LOG_SOFTMAX_LOSSES = {   # the log_softmax VJP reached with different adjoints g
    "cross_entropy_rows": ("cross_entropy(Z, Y)", 1),
    "weighted_sum": ("-sum(log_softmax(Z, axis=1) * Y)", 1),            # g = -Y, no 1/n
    "columns": ("-mean(sum(Y * log_softmax(Z, axis=0), axis=0))", 0),   # along the batch axis
    "plus_a_penalty": ("cross_entropy(Z, Y) + mean(Z * Z)", 1),         # dL/dZ sums two terms
}


def _log_softmax_module(loss, name):
    spec = Spec(name=name, inputs={"X": ["n", 5], "Y": ["n", 4]}, params={"W": [5, 4], "b": [4]},
                nodes={"Z": "X @ W + b"}, loss=loss)
    return load_module(render_module(derive(spec)), f"ls_{name}")


@pytest.mark.parametrize("name", list(LOG_SOFTMAX_LOSSES))
@pytest.mark.parametrize("logit", [0.0, 40.0, 700.0])
def test_step_log_softmax_backward_matches_the_plain_one(name, logit):
    """The step's cheap log_softmax backward (g - e sum(g) / t from the forward's exp and row
    sums) equals the plain backward, with overflow and invalid raised, up to saturated logits."""
    loss, _axis = LOG_SOFTMAX_LOSSES[name]
    module = _log_softmax_module(loss, name)
    rng = np.random.default_rng(1)
    params = {"W": rng.standard_normal((5, 4)), "b": np.array([logit, -logit, 0.5, 0.0])}
    inputs = {"X": rng.standard_normal((7, 5)), "Y": rng.uniform(0.0, 1.0, (7, 4))}
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        ref_loss, ref = module.loss_and_grads(params, inputs)
        step_loss, grads = module.make_step()(params, inputs)
    assert step_loss == pytest.approx(ref_loss, rel=1e-12)
    scale = max(np.max(np.abs(g)) for g in ref.values())   # a column softmax's db is 0 up to rounding
    for p in ref:
        np.testing.assert_allclose(grads[p], ref[p], rtol=0, atol=1e-12 * scale, err_msg=p)


def test_step_cross_entropy_takes_one_exp_and_no_full_size_temporary(tmp_path):
    """Cross-entropy's step: exp once (forward), no expm1, no (n, w) array of log_softmax."""
    text = render_module(derive(batch_spec("softmax_ce")))
    step = text[text.index("def loss_and_grads_into"):text.index("def make_step")]
    step = "\n".join(line for line in step.splitlines() if not line.strip().startswith("#"))
    assert step.count("np.exp(") == 1 and "expm1" not in step
    module = load_module(text, "ce_passes")
    full = [s for s in module._allocate(9, np.float64) if s.shape == (9, 4)]
    assert len(full) <= 2, f"{len(full)} arrays of the logits' shape"


def _step_lines(text):
    step = text[text.index("def loss_and_grads_into"):text.index("def make_step")]
    return [line.strip() for line in step.splitlines() if line.strip() and not line.strip().startswith("#")]


def _defining(lines, name):
    """(index, line) of the statement that assigns name."""
    return next((k, line) for k, line in enumerate(lines) if line.startswith(f"{name} = "))


def test_step_makes_the_relu_mask_in_the_forward_pass_and_runs_relu_in_place():
    """The mask comes from the pre-activation right after it is made, so the pre-activation
    is dead after ReLU and ReLU overwrites it: the step keeps two arrays of the hidden
    shape (H for dW2, and dL/dH), not three."""
    text = render_module(derive(batch_spec("relu_mse")))
    lines = _step_lines(text)
    k_pre, pre = _defining(lines, "H_2")
    k_mask, mask = _defining(lines, "_t" + re.search(r"_t(\d+) = np\.greater\(H_2, 0", text).group(1))
    k_relu, relu = _defining(lines, "H")
    assert k_pre < k_mask < k_relu, lines
    assert relu.split("out=")[1] == pre.split("out=")[1], (pre, relu)     # in place
    module = load_module(text, "relu_in_place")
    hidden = [a for a in module._allocate(9, np.float64) if a.shape == (9, 7)]
    assert [a.dtype for a in hidden].count(np.float64) == 2 and len(hidden) == 3, hidden


@pytest.mark.parametrize("net", list(BODIES))
def test_step_sums_computed_arrays_by_blas_right_after_making_them(net):
    """Bias gradients (column sums over the batch) and the softmax's row sums are products
    with a ones vector, placed right after the array they sum (still in cache); sums of an
    input (the targets' row sums) stay np.add.reduce."""
    text = render_module(derive(batch_spec(net)))
    lines = _step_lines(text)
    for bias in ("b1", "b2"):
        k, line = _defining(lines, f"d_{bias}")
        summed = re.fullmatch(r"d_\w+ = np\.matmul\(_b\d+, (\w+), out=_b\d+\)", line)
        assert summed, line
        assert lines[k - 1].startswith(f"{summed.group(1)} = "), (lines[k - 1], line)
    assert not re.search(r"np\.add\.reduce\((?!Y\b)\w+, axis=[01]", text)
    module = load_module(text, f"sums_{net}")
    ones = [a for a in module._allocate(9, np.float64) if a.shape == (9,)]
    assert len(ones) == 1 and np.all(ones[0] == 1)
    if net == "softmax_ce":
        assert re.search(r"np\.add\.reduce\(Y, axis=1, keepdims=True", text)


CATALOG = {   # one loss per feature of the spec language, each reaching the step's out= forms
    "relu": "mean(relu(H) * Y)", "sigmoid": "mean(sigmoid(H) * Y)", "tanh": "mean(tanh(H) ** 2)",
    "exp": "mean(exp(H / 4) * Y)", "log": "mean(log(H * H + 1))", "softplus": "mean(softplus(H) - Y * H)",
    "gelu": "mean(gelu(H) * Y)", "leaky_relu": "mean(leaky_relu(H, 0.1) * Y)", "erf": "mean(erf(H) * Y)",
    "division": "mean(Y / (H * H + 1))", "power": "mean((H - Y) ** 3)", "transpose": "sum(H.T @ Y)",
    "mean_rows": "mean(mean(H, axis=1, keepdims=True) * Y)", "sum_all_kept": "mean(sum(H, keepdims=True) * H)",
    "softmax_rows": "mean(softmax(H, axis=1) * Y)", "softmax_columns": "mean(softmax(H, axis=0) * Y)",
    "log_softmax": "-mean(log_softmax(H, axis=1) * Y)", "concat": "mean(concat(H, Y, axis=1) ** 2)",
    "outer": "sum(outer(sum(H, axis=0), sum(Y, axis=0)))", "ones": "mean((H + ones(n, 1)) * Y)",
    "sq_norm": "sq_norm(H - Y)", "mse": "mse(H, Y)", "bce": "bce(sigmoid(H), sigmoid(Y))",
    "cross_entropy": "cross_entropy(H, softmax(Y, axis=1))", "broadcast_scalar": "mean(H * 2 + 1) * mean(Y)",
    "row_vector": "mean(H * sum(Y, axis=0))",
    # sums along an axis (BLAS products with a ones vector when the step computed the array)
    "sum_rows": "mean(sum(H * H, axis=1) * sum(Y, axis=1))",
    "sum_rows_kept": "mean(sum(H, axis=1, keepdims=True) * Y)",
    "sum_columns": "mean(sum(H, axis=0) * sum(H * Y, axis=0))",
    "sum_columns_kept": "mean(sum(tanh(H), axis=0, keepdims=True) * H)",
    "sum_of_a_mask": "mean(sum(step(H), axis=0) * sum(H, axis=0))",
    # found by random expressions: an irrational constant (1 / (sqrt(pi) n)), functions of
    # constants (gelu's helper calls erf), a 0/1 mask read by something other than a product
    "irrational_constant": "mean(erf(H) + H)",
    "functions_of_constants": "mean(H * step(0.5) + gelu(2) * H + softplus(0.5))",
    "mask_into_a_function": "mean(erf(step(H)) * H)",
}


ROWS = ({"X": ["n", 4], "Y": ["n", 4]}, {"W": [4, 4]})
STRUCTURES = {   # whole nets: (inputs, params, nodes, loss)
    "vectors": ({"x": [5], "y": [3]}, {"W1": [4, 5], "b1": [4], "W2": [3, 4]},
                {"h": "tanh(W1 @ x + b1)", "z": "W2 @ h"}, "sq_norm(z - y)"),
    "vector_softmax_nll": ({"x": [5], "y": [3]}, {"W": [3, 5]}, {"p": "softmax(W @ x)"}, "nll(p, y)"),
    "parameter_twice": ({"x": [5], "y": [5]}, {"W": [5, 5]}, {"z": "W @ (W @ x)"}, "sq_norm(z - y)"),
    "parameter_and_its_transpose": (*ROWS, {"Z": "X @ W @ W.T"}, "mse(Z, Y)"),
    "three_layers": ({"X": ["n", 5], "Y": ["n", 2]}, {"W1": [5, 6], "W2": [6, 6], "W3": [6, 2]},
                     {"A": "relu(X @ W1)", "B": "tanh(A @ W2)", "Z": "B @ W3"}, "cross_entropy(Z, Y)"),
    "residual": (*ROWS, {"H": "X + relu(X @ W)"}, "mse(H, Y)"),
    "activation_read_twice": (*ROWS, {"H": "sigmoid(X @ W)"}, "mean(H * H) + bce(H, Y)"),
    "quotient_of_parameters": ({"X": ["n", 4], "Y": ["n", 4]}, {"W": [4, 4], "V": [4, 4]},
                               {"H": "(X @ W) / (1 + (X @ V) ** 2)"}, "mse(H, Y)"),
    "scalar_parameter": ({"X": ["n", 4], "Y": ["n", 4]}, {"W": [4, 4], "s": []}, {"H": "s * (X @ W)"}, "mse(H, Y)"),
    "logistic_of_a_scalar": ({"X": ["n", 4], "Y": ["n", 4]}, {"W": [4, 4], "s": []}, {"H": "X @ W"},
                             "mean(H * softplus(s)) + mean(H * sigmoid(-s)) + bce(sigmoid(s), 0.3)"),
    "centred_batch": (*ROWS, {"H": "X @ W - mean(X @ W, axis=0)"}, "mse(H, Y)"),
    "softmax_over_the_batch": (*ROWS, {"P": "softmax(X @ W, axis=0)"}, "-sum(Y * log(P))"),
    **{name: ({"X": ["n", 5], "Y": ["n", 4]}, {"W": [5, 4], "b": [4]}, {"H": "X @ W + b"}, loss)
       for name, loss in CATALOG.items()},
}
NO_SCALAR_FORM = ("gelu", "leaky_relu", "erf", "irrational_constant", "functions_of_constants", "mask_into_a_function")


@pytest.mark.parametrize("batch", ["n", 3], ids=["array_step", "fixed_size"])
@pytest.mark.parametrize("name", list(STRUCTURES))
def test_step_equals_the_plain_code_across_the_spec_language(name, batch):
    """The compiled step gives the plain code's loss and gradients for every function and
    reduction of the spec language and for nets of several shapes, in float64 and float32
    (float32 results stay float32): the array step for a symbolic batch, the straight-line
    scalar step at a fixed size (where every function has a scalar form; x / s**2 there once
    printed as x / s * s, and a row sum's gradient once crashed the array step, as did a
    scalar's softplus, an irrational constant and erf of a mask)."""
    inputs, params, nodes, loss = STRUCTURES[name]

    def sized(shapes):
        return {k: [batch if d == "n" else d for d in shape] for k, shape in shapes.items()}

    spec = Spec(name=f"cat_{name}", inputs=sized(inputs), params=sized(params), nodes=dict(nodes),
                loss=loss.replace("ones(n, 1)", f"ones({batch}, 1)"))
    module = load_module(render_module(derive(spec)), f"cat_{name}")
    if batch != "n":
        assert hasattr(module, "loss_and_grads_scalar") == (name not in NO_SCALAR_FORM)
    rng = np.random.default_rng(4)
    rows = 9 if batch == "n" else batch

    def shape(s):
        return tuple(rows if d == "n" else d for d in s)

    for dtype, rtol in ((np.float64, 1e-11), (np.float32, 3e-5)):
        values = {k: rng.standard_normal(shape(s)).astype(dtype) for k, s in params.items()}
        # inputs in (0.1, 0.9): valid targets for every loss
        data = {k: rng.uniform(0.1, 0.9, shape(s)).astype(dtype) for k, s in inputs.items()}
        ref_loss, ref = module.loss_and_grads(values, data)
        step = module.make_step()
        for _ in range(2):    # the second call reuses the workspace
            step_loss, grads = step(values, data)
            assert step_loss == pytest.approx(ref_loss, rel=rtol, abs=rtol)
            for p in ref:
                assert grads[p].dtype == dtype, (p, grads[p].dtype)
                np.testing.assert_allclose(grads[p], ref[p], rtol=rtol, atol=rtol * (1 + np.max(np.abs(ref[p]))),
                                           err_msg=f"{p} {np.dtype(dtype).name}")


@pytest.mark.parametrize("logit", [0.0, 30.0, 800.0, -800.0])
def test_scalar_softmax_is_overflow_safe(logit, tmp_path):
    """multiclass (softmax + nll) in straight-line scalar code: the maximum is subtracted
    before exp, so saturated logits give the finite loss and gradients of the array code."""
    module, params, inputs = module_and_data("multiclass", tmp_path)
    assert hasattr(module, "loss_and_grads_scalar")
    params["b2"] = np.array([logit, -logit, 0.0])
    inputs["y"] = np.array([0.0, 1.0, 0.0])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss, grads = module.loss_and_grads(params, inputs)
    scalar_loss, scalar_grads = module.loss_and_grads_scalar(params, inputs)
    assert np.isfinite(scalar_loss) and scalar_loss == pytest.approx(loss, rel=1e-12)
    for p in grads:
        np.testing.assert_allclose(scalar_grads[p], grads[p], rtol=1e-10, atol=1e-14, err_msg=p)


def test_step_bce_shares_two_exps_between_loss_and_gradient_and_sums_by_dot_products():
    """Fused BCE holds softplus(z) and softplus(-z), and its gradient sigmoid(z) and
    sigmoid(-z): the step gets all four from exp(min(z, 0)) and exp(-max(z, 0)) (no
    element-by-element np.logaddexp, no exp that could overflow at the output), one
    log1p, the loss's mean as read-only reductions, and no more arrays of the logits'
    shape than the values that must be alive together."""
    text = render_module(derive(batch_spec("sigmoid_bce")))
    step = text[text.index("def loss_and_grads_into"):text.index("def make_step")]
    step = "\n".join(line for line in step.splitlines() if not line.strip().startswith("#"))
    assert "logaddexp" not in step and step.count("np.log1p(") == 1
    output_block = step[step.index("np.add(P_1, b2"):]
    assert output_block.count("np.exp(") == 2 and "errstate" not in output_block
    mean = re.search(r"^\s*loss_8 = (.*)$", step, re.M).group(1)
    terms = re.findall(r"_t\d+", mean)
    dots = [t for t in terms if re.search(rf"^\s*{t} = np\.vdot\(", step, re.M)]
    sums = [t for t in terms if re.search(rf"^\s*{t} = np\.add\.reduce\(_t\d+, axis=None\)", step, re.M)]
    # y relu(-z) and (1 - y) relu(z) as dot products; the tail's y and 1 - y shares as one sum
    assert (len(dots), len(sums), len(terms)) == (2, 1, 3), mean
    module = load_module(text, "bce_parts")
    logits_shaped = [s for s in module._allocate(9, np.float64) if s.shape == (9, 4)]
    assert len(logits_shaped) <= 5, f"{len(logits_shaped)} arrays of the logits' shape"


LOGISTIC_LOSSES = {   # sigmoid / softplus losses whose step shares the logistic parts, or must not
    "bce": ({"P": "sigmoid(X @ W + b)"}, "bce(P, Y)"),
    "bce_inline": ({"Z": "X @ W + b"}, "-mean(Y * log(sigmoid(Z)) + (1 - Y) * log(1 - sigmoid(Z)))"),
    "weighted": ({"P": "sigmoid(X @ W + b)"}, "-mean(3 * Y * log(P) + (1 - Y) * log(1 - P))"),
    "one_term": ({"P": "sigmoid(X @ W + b)"}, "-mean(Y * log(P))"),
    "softplus": ({"Z": "X @ W + b"}, "mean(softplus(Z) * Y)"),
    "plus_a_penalty": ({"P": "sigmoid(X @ W + b)"}, "bce(P, Y) + mean(P * P)"),
}


@pytest.mark.parametrize("name", list(LOGISTIC_LOSSES))
@pytest.mark.parametrize("logit", [0.0, 40.0, -40.0, 700.0, -700.0])
def test_step_logistic_losses_match_the_plain_backward(name, logit):
    """Soft targets in [0, 1], a weight that only one term carries, one sigmoid term alone,
    softplus alone, and a sigmoid read by something else too: the step, which rewrites
    pairs of sigmoid(z) and sigmoid(-z) over shared exps, keeps the plain backward's values
    (tiny gradients of saturated logits included) with overflow and invalid raised."""
    nodes, loss = LOGISTIC_LOSSES[name]
    spec = Spec(name=f"logistic_{name}", inputs={"X": ["n", 5], "Y": ["n", 4]}, params={"W": [5, 4], "b": [4]},
                nodes=dict(nodes), loss=loss)
    text = render_module(derive(spec))
    if name in ("bce", "bce_inline", "weighted"):   # the pair sigmoid(z), sigmoid(-z) is rewritten
        step = text[text.index("def loss_and_grads_into"):text.index("def make_step")]
        assert step.count("np.exp(") == 2 and "errstate" not in step
    module = load_module(text, f"lg_{name}")
    rng = np.random.default_rng(2)
    params = {"W": rng.standard_normal((5, 4)), "b": np.array([logit, -logit, 0.5, logit / 2])}
    inputs = {"X": rng.standard_normal((7, 5)), "Y": rng.uniform(0.0, 1.0, (7, 4))}
    inputs["Y"][:3] = np.round(inputs["Y"][:3])        # some hard 0/1 targets too
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        ref_loss, ref = module.loss_and_grads(params, inputs)
        step_loss, grads = module.make_step()(params, inputs)
    assert np.isfinite(ref_loss) and step_loss == pytest.approx(ref_loss, rel=1e-12)
    for p in ref:
        np.testing.assert_allclose(grads[p], ref[p], rtol=1e-9, atol=1e-300, err_msg=p)


def _schedule_ops(with_reader_of_the_loss):
    """t = exp(z); x = log1p(t), read only by a dot product d; s = z * z; [g = d * t]; r = t + 1."""
    from symgrad.emit.step import Op
    shape = (dim(4), dim(5))
    z, y = Var("z", shape, "input"), Var("y", shape, "input")
    t, x = Var("t", shape, "temp"), Var("x", shape, "temp")
    d = Var("d", (), "temp")
    ops = [Op("t", Apply("exp", (z,), (), shape)), Op("x", Apply("log1p", (t,), (), shape)),
           Op("d", Apply("dot", (x, y), (("count", 1),), ())), Op("s", Apply("mul", (z, z), (), shape))]
    if with_reader_of_the_loss:
        ops.append(Op("g", Apply("mul", (d, t), (), shape)))
    ops.append(Op("r", Apply("add", (t, Const(1)), (), shape)))
    return ops


@pytest.mark.parametrize("with_reader_of_the_loss", [False, True])
def test_late_reduction_schedule_moves_only_when_every_reader_still_follows(with_reader_of_the_loss):
    """log1p(t), read only by a dot product, moves with the dot product to just before t's
    last reader (where it can take t's array), unless something staying put reads the dot."""
    from symgrad.emit.step.schedule import sink_reductions
    from symgrad.ir import walk
    scheduled = sink_reductions(_schedule_ops(with_reader_of_the_loss))
    order = [op.target for op in scheduled]
    assert order == (["t", "x", "d", "s", "g", "r"] if with_reader_of_the_loss else ["t", "s", "x", "d", "r"])
    defined = {"z", "y"}
    for op in scheduled:
        assert {v.name for v in walk(op.node) if isinstance(v, Var)} <= defined, op.target
        defined.add(op.target)


def test_region_rewrite_gives_sympy_only_small_regions_that_divide_by_a_variable(monkeypatch):
    """sympy's cancel/factor runs only where it can pay: a region dividing by a variable, of
    modest size. A constant divisor (1/sqrt(pi) in gelu') or a large region never reaches it
    (gelu' of a cube once took sympy's polynomial gcd over ten minutes)."""
    import sympy as sp
    from symgrad.emit.step import regions

    x, y = sp.symbols("leaf0 leaf1", real=True)

    def refuse(*args, **kwargs):
        raise AssertionError("sympy.cancel called")

    monkeypatch.setattr(sp, "cancel", refuse)
    cheapest = regions.cheapest
    gelu_of_a_cube = 3 * x**2 * (x**3 * sp.exp(-x**6 / 2) / sp.sqrt(2 * sp.pi) + (1 + sp.erf(x**3 / sp.sqrt(2))) / 2)
    assert cheapest(gelu_of_a_cube) is None
    large = sum((x - k) ** 2 / (y + k) for k in range(1, 12))
    assert sp.count_ops(large) > regions.MAX_REGION_OPS and cheapest(large) is None
    with pytest.raises(AssertionError, match="sympy.cancel"):   # a small division still goes to sympy
        cheapest(x / (1 + y))

