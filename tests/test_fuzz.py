"""Property-based fuzzing: random networks derive, render and check; random mistakes give clear errors.

Valid specs: depth 1 to 6, widths 1 to 4, random activations and losses,
biases that broadcast over a batch, concatenated ones columns, tied (and
transposed) weights, row (X @ W) and column (W @ x) layouts, symbolic or fixed
batch sizes, and single examples. Each one must derive, render to identical
bytes twice, agree with finite differences to 1e-6, and, when it is small
enough, be proven entry by entry.

Invalid specs: a valid spec with a name, shape, function or character changed,
run through the command line: exit status 0 (the edit happened to be valid)
or 2 with one line on stderr, never a traceback.

Count: SYMGRAD_FUZZ_EXAMPLES valid specs and as many invalid ones (default
110 + 110, derandomized, for CI; about a minute and a half). Nightly-style run (README):
    SYMGRAD_FUZZ_EXAMPLES=2000 python -m pytest -q tests/test_fuzz.py
"""

import json
import os
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symgrad import Spec, derive
from symgrad.check.numeric import check_module, load_module
from symgrad.check.proof import prove
from symgrad.cli import main
from symgrad.emit.latex_doc import render_fragment
from symgrad.emit.numpy_module import render_module
from symgrad.errors import SymgradError

EXAMPLES = int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", "110"))
NIGHTLY = "SYMGRAD_FUZZ_EXAMPLES" in os.environ
SETTINGS = dict(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not NIGHTLY,
                suppress_health_check=list(HealthCheck))
PROOF_LIMIT = 24          # prove specs with at most this many parameter entries at the proof sizes
PROOF_NODES = 12          # ... and at most this many graph nodes (sympy time grows fast with depth)

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "softplus", "gelu", "erf", "identity"]


def _act(name: str, inner: str) -> str:
    return f"leaky_relu({inner}, 0.2)" if name == "leaky_relu" else f"{name}({inner})"


@st.composite
def valid_specs(draw):
    """A random valid network as the tables of a spec."""
    layout = draw(st.sampled_from(["row", "column", "vector"]))
    batch = None if layout == "vector" else draw(st.sampled_from(["n", "n", 1, 3]))
    depth = draw(st.integers(1, 6))
    widths = [draw(st.integers(1, 4)) for _ in range(depth + 1)]
    loss_kind = draw(st.sampled_from(["mse", "sq_norm", "bce", "bce_hand", "log_sigmoid", "classes",
                                      "classes_hand", "linear"]))
    if loss_kind.startswith("classes"):
        widths[-1] = max(widths[-1], 2)           # one class has an identically zero gradient
    inputs, params, nodes = {}, {}, {}

    def shape(rows, cols):
        """A (features, batch) pair in the layout's order."""
        if layout == "row":
            return [cols, rows]
        if layout == "column":
            return [rows, cols]
        return [rows]

    inputs["X"] = shape(widths[0], batch)
    prev = "X"
    for i in range(1, depth + 1):
        fan_in, fan_out = widths[i - 1], widths[i]
        style = draw(st.sampled_from(["bias", "bias", "broadcast_bias", "none", "concat"]))
        if style == "concat":
            ones = {"row": f"ones({batch}, 1)", "column": f"ones(1, {batch})", "vector": "ones(1)"}[layout]
            axis = 1 if layout == "row" else 0
            nodes[f"a{i}"] = f"concat({prev}, {ones}, axis={axis})"
            prev, fan_in = f"a{i}", fan_in + 1
        wshape = [fan_in, fan_out] if layout == "row" else [fan_out, fan_in]
        weight = None
        if draw(st.booleans()):                   # tie to an earlier weight, as is or transposed
            for name, s in params.items():
                if name.startswith("W") and s == wshape:
                    weight = name
                elif name.startswith("W") and s == wshape[::-1] and draw(st.booleans()):
                    weight = f"{name}.T"
        if weight is None:
            weight = f"W{i}"
            params[weight] = wshape
        pre = f"{prev} @ {weight}" if layout == "row" else f"{weight} @ {prev}"
        if style in ("bias", "broadcast_bias"):
            if layout == "row":
                bshape = [fan_out] if style == "bias" else [1, fan_out]
            elif layout == "column":
                bshape = [fan_out, 1]
            else:
                bshape = [fan_out]
            params[f"b{i}"] = bshape
            pre += f" + b{i}"
        act = "identity" if i == depth and loss_kind in ("bce", "bce_hand", "log_sigmoid", "classes",
                                                         "classes_hand") else draw(st.sampled_from(ACTIVATIONS))
        if draw(st.booleans()):
            nodes[f"z{i}"] = pre
            pre = f"z{i}"
        nodes[f"h{i}"] = _act(act, pre)
        prev = f"h{i}"
    inputs["Y"] = shape(widths[-1], batch)
    axis = {"row": 1, "column": 0, "vector": 0}[layout]
    out = prev
    loss = {
        "mse": f"mse({out}, Y)",
        "sq_norm": f"sq_norm({out} - Y) / 2",
        "bce": f"bce(sigmoid({out}), Y)",
        "bce_hand": f"-mean(Y * log(sigmoid({out})) + (1 - Y) * log(1 - sigmoid({out})))",
        "log_sigmoid": f"-sum(Y * log(sigmoid({out})))",
        "classes": f"-mean(sum(Y * log_softmax({out}, axis={axis}), axis={axis}))",
        "classes_hand": f"-mean(sum(Y * log(softmax({out}, axis={axis})), axis={axis}))",
        "linear": f"mean({out} * Y)",
    }[loss_kind]
    if draw(st.booleans()):
        loss += f" + 0.1 * sq_norm({next(iter(params))})"   # the first weight is used twice
    if loss_kind == "classes" and layout == "row" and draw(st.booleans()):
        loss = f"cross_entropy({out}, Y)"
    return {"name": "fuzz", "inputs": inputs, "params": params, "nodes": nodes, "loss": {"expr": loss}}


def _spec(tables) -> Spec:
    return Spec.from_dict(tables, source="fuzz.toml")


def _entries_at_proof_sizes(d) -> int:
    return sum(int(np.prod([int(x.subs({s: 2 for s in x.free_symbols})) for x in v.shape], dtype=int))
               for v in d.graph.params.values())


def test_random_valid_specs_derive_render_and_check():
    seen = {"specs": 0, "proven": 0, "fd_points": 0, "seconds": time.perf_counter(), "disagreements": 0}

    @settings(**SETTINGS)
    @given(valid_specs(), st.integers(0, 2**16))
    def run(tables, seed):
        d = derive(_spec(tables))
        text = render_module(d)
        again = derive(_spec(tables))
        assert render_module(again) == text                                 # byte-identical twice
        assert render_fragment(again) == render_fragment(d)
        check = check_module(d, load_module(text, "fuzz"), seed=seed, points=1)
        if not check.ok:
            seen["disagreements"] += 1
        assert check.ok, (tables, [(p.name, p.max_rel_error, p.worst) for p in check.params])
        seen["fd_points"] += check.points
        if _entries_at_proof_sizes(d) <= PROOF_LIMIT and len(d.graph.nodes) <= PROOF_NODES:
            proof = prove(d)
            assert proof.ok, (tables, [(p.name, p.failures[:1]) for p in proof.params if not p.ok])
            seen["proven"] += 1
        seen["specs"] += 1

    run()
    seconds = time.perf_counter() - seen["seconds"]
    print(f"\nfuzz: {seen['specs']} valid specs, {seen['proven']} proven entry by entry, "
          f"{seen['fd_points']} finite-difference points, {seen['disagreements']} disagreements, {seconds:.0f} s")
    assert seen["specs"] >= EXAMPLES
    assert seen["proven"] >= EXAMPLES // 5


# -- invalid specs ----------------------------------------------------------------

@st.composite
def mutated_specs(draw):
    """A valid spec with one mistake of the kinds people make (or random noise)."""
    tables = draw(valid_specs())
    kind = draw(st.sampled_from(["rename_use", "rename_decl", "shape", "weird_shape", "function", "char",
                                 "drop_node", "reserved", "axis", "unreduce", "keyword"]))
    exprs = [("nodes", k) for k in tables["nodes"]] + [("loss", "expr")]
    where = draw(st.sampled_from(exprs))
    text = tables[where[0]][where[1]]
    names = list(tables["params"]) + list(tables["inputs"]) + list(tables["nodes"])
    if kind == "rename_use":
        old = draw(st.sampled_from([n for n in names if n in text] or names))
        text = text.replace(old, draw(st.sampled_from(["Q9", "W99", "x_", "Wl"])), 1)
    elif kind == "rename_decl":
        table = draw(st.sampled_from(["params", "inputs"]))
        old = draw(st.sampled_from(list(tables[table])))
        tables[table] = {("V7" if k == old else k): v for k, v in tables[table].items()}
    elif kind == "shape":
        table = draw(st.sampled_from(["params", "inputs"]))
        name = draw(st.sampled_from(list(tables[table])))
        s = list(tables[table][name])
        i = draw(st.integers(0, len(s) - 1))
        s[i] = draw(st.sampled_from([5, 6, 7, "m"]))
        tables[table][name] = s
    elif kind == "weird_shape":
        name = draw(st.sampled_from(list(tables["params"])))
        tables["params"][name] = draw(st.sampled_from([[0], [-1], [2, 2, 2], "3", [1.5], [True], [], ["n n"]]))
    elif kind == "function":
        text = draw(st.sampled_from([text.replace(f, g, 1) for f in ("sigmoid", "tanh", "relu", "mean", "sum",
                                                                       "softmax", "concat", "ones", "log")
                                     for g in ("sigmoidd", "Tanh", "swish", "avg") if f in text] or ["foo(X)"]))
    elif kind == "char":
        pos = draw(st.integers(0, len(text)))
        noise = draw(st.sampled_from(list("()[]{},.;:@*/+-=!$%^&|~`'\\\"#?<> 0123456789abcT_\t\x00é")))
        if draw(st.booleans()) and text:
            text = text[:pos] + text[pos + 1:]
        else:
            text = text[:pos] + noise + text[pos:]
    elif kind == "drop_node" and tables["nodes"]:
        tables["nodes"].pop(draw(st.sampled_from(list(tables["nodes"]))))
    elif kind == "reserved":
        new = draw(st.sampled_from(["np", "loss", "relu", "class", "d_W", "_x", "T", "forward", "1a"]))
        old = next(iter(tables["params"]))
        tables["params"] = {(new if k == old else k): v for k, v in tables["params"].items()}
    elif kind == "axis":
        text = text.replace("axis=", f"axis={draw(st.sampled_from(['5', '-4', '0.5', 'n', 'True']))}#", 1) \
            .replace("#0", "").replace("#1", "")
    elif kind == "unreduce":
        text = text.replace("mean(", "(", 1).replace("sum(", "(", 1)
    elif kind == "keyword":
        text = text.replace(")", draw(st.sampled_from([", axes=1)", ", keepdims=2)", ", 3)", ", slope=x)"])), 1)
    if kind not in ("rename_decl", "shape", "weird_shape", "drop_node", "reserved"):
        if where[0] == "nodes" and where[1] in tables["nodes"]:
            tables["nodes"][where[1]] = text
        elif where[0] == "loss":
            tables["loss"]["expr"] = text
    return tables


def _toml(tables) -> str:
    """TOML text of the tables (keys and strings quoted as JSON, which TOML accepts)."""
    lines = [f"name = {json.dumps(tables['name'])}"]
    for table in ("inputs", "params", "nodes", "loss"):
        lines.append(f"[{table}]")
        for key, value in tables[table].items():
            lines.append(f"{json.dumps(key)} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def test_random_invalid_specs_end_in_one_clear_line(tmp_path_factory, capsys):
    seen = {"specs": 0, "rejected": 0}
    folder = tmp_path_factory.mktemp("invalid")

    @settings(**SETTINGS)
    @given(mutated_specs())
    def run(tables):
        path = folder / "fuzz.toml"
        path.write_text(_toml(tables), encoding="utf-8")
        capsys.readouterr()
        status = main(["derive", str(path), "-o", str(folder / "out")])
        err = capsys.readouterr().err
        assert status in (0, 2), err                       # 3 would be an internal error (a bug)
        if status == 2:
            assert err.startswith("symgrad: error: ") and err.count("\n") == 1, err
            assert str(path) in err and "Traceback" not in err
            seen["rejected"] += 1
        seen["specs"] += 1

    run()
    print(f"\nfuzz: {seen['specs']} mutated specs, {seen['rejected']} rejected with one line, "
          f"{seen['specs'] - seen['rejected']} still valid")
    assert seen["specs"] >= EXAMPLES
    assert seen["rejected"] >= EXAMPLES // 2


@settings(max_examples=min(EXAMPLES, 60), deadline=None, database=None, derandomize=not NIGHTLY,
          suppress_health_check=list(HealthCheck))
@given(mutated_specs())
def test_the_python_api_raises_only_symgrad_errors(tables):
    try:
        d = derive(_spec(tables))
        render_module(d)
    except SymgradError as exc:
        assert str(exc) and "\n" not in str(exc)
