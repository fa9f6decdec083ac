"""Bad specs: every one ends in one clear line on stderr and exit status 2, never a traceback.

Each case is a small edit of a good spec, with the fragments its message must
contain: the file (always), the node, the expression and the shapes where the
problem has them, and the word that says what is wrong.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from symgrad.cli import main

ROOT = Path(__file__).resolve().parents[1]

GOOD = '''name = "net"
[inputs]
x = ["n", 3]
y = ["n", 2]
[params]
W = [3, 2]
b = [2]
[nodes]
z = "x @ W + b"
[loss]
expr = "mean((z - y)**2)"
'''


def edit(old, new, base=GOOD):
    assert old in base, old
    return base.replace(old, new)


Z = "node 'z'"
LOSS = "node 'loss'"

# (label, spec text, fragments the one-line message must contain)
BAD = [
    # names
    ("undefined name", edit('"x @ W + b"', '"x @ V + b"'), [Z, "'x @ V + b'", "undefined name 'V'", "column 5"]),
    ("used before defined", edit('z = "x @ W + b"', 'z = "x @ W + b + q"\nq = "x @ W"'),
     [Z, "'q'", "used before it is defined"]),
    ("function used as a name", edit('"x @ W + b"', '"x @ W + relu"'), [Z, "'relu'", "is a function"]),
    ("declared twice", edit("b = [2]", "b = [2]\nx = [2]"), ["'x'", "declared twice", "[inputs] and [params]"]),
    ("reserved name", edit("b = [2]", "np = [2]").replace("+ b", "+ np"), ["'np'", "reserved name"]),
    ("adjoint prefix", edit("b = [2]", "d_b = [2]").replace("+ b", "+ d_b"), ["'d_b'", "starts with 'd_'"]),
    ("underscore prefix", edit("b = [2]", "_b = [2]").replace("+ b", "+ _b"), ["'_b'", "starts with '_'"]),
    ("injection in a name", edit("W = [3, 2]", '"W; import os" = [3, 2]'), ["'W; import os'", "not a valid identifier"]),
    ("keyword as a name", edit("b = [2]", "class = [2]"), ["'class'", "not a valid identifier"]),
    ("non-ascii name", edit("b = [2]", '"bé" = [2]').replace("+ b", "+ bé"), ["'bé'", "not a valid identifier"]),
    ("spec name", edit('name = "net"', 'name = "my-net"'), ["'my-net'", "not a valid Python identifier"]),
    ("missing name", GOOD.replace('name = "net"\n', ""), ["missing 'name'"]),
    ("size name is an array", edit('x = ["n", 3]', 'x = ["y", 3]'), ["size name 'y'", "also the name of an array"]),
    ("bad size name", edit('x = ["n", 3]', 'x = ["n/2", 3]'), ["'n/2'", "may use only integers"]),
    ("unknown size", edit('"x @ W + b"', '"concat(x, ones(k, 1), axis=1) @ ones(4, 2) + b"'),
     [Z, "'k'", "not a size", "n"]),
    # functions and syntax
    ("unknown function", edit('"x @ W + b"', '"mishy(x @ W) + b"'), [Z, "'mishy(x @ W) + b'", "unknown function 'mishy'", "relu"]),
    ("dunder call", edit('"x @ W + b"', '"__import__(x) + b"'), [Z, "'__import__'", "not allowed"]),
    ("attribute access", edit('"x @ W + b"', '"x.shape @ W + b"'), [Z, "only '.T'", "'shape'"]),
    ("lambda", edit('"x @ W + b"', '"lambda: x"'), [Z, "found ':' at column 7"]),
    ("unbalanced parenthesis", edit('"x @ W + b"', '"(x @ W + b"'), [Z, "expected ')'", "end of input"]),
    ("stray character", edit('"x @ W + b"', '"x @ W $ b"'), [Z, "'x @ W $ b'", "unexpected character '$'", "column 7"]),
    ("empty expression", edit('"x @ W + b"', '""'), [Z, "empty"]),
    ("deep nesting", edit('"x @ W + b"', '"' + "(" * 500 + "x" + ")" * 500 + ' @ W + b"'), [Z, "deeper than"]),
    ("too many arguments", edit('"x @ W + b"', '"sigmoid(x @ W + b, 2)"'), [Z, "sigmoid takes one array"]),
    ("composite arity", edit('"mean((z - y)**2)"', '"mse(z)"'), [LOSS, "'mse(z)'", "mse takes 2 argument(s)"]),
    ("leaky slope not a number", edit('"x @ W + b"', '"leaky_relu(x @ W + b, b)"'), [Z, "plain number"]),
    ("unknown keyword", edit('"mean((z - y)**2)"', '"mean(sum((z - y)**2, axes=1))"'), [LOSS, "no keyword 'axes'"]),
    ("keepdims not a bool", edit('"mean((z - y)**2)"', '"mean(sum((z - y)**2, axis=1, keepdims=1))"'),
     [LOSS, "keepdims must be True or False"]),
    ("axis not an integer", edit('"mean((z - y)**2)"', '"mean(sum((z - y)**2, axis=0.5))"'), [LOSS, "axis must be an integer"]),
    ("exponent not a number", edit('"mean((z - y)**2)"', '"mean((z - y)**z)"'), [LOSS, "exponent", "plain number"]),
    ("exponent too large", edit('"mean((z - y)**2)"', '"mean((z - y)**100)"'), [LOSS, "exponent 100", "too large"]),
    ("exponent bomb", edit('"mean((z - y)**2)"', '"mean((z - y)**9**9)"'), [LOSS, "plain number"]),
    ("division by zero", edit('"mean((z - y)**2)"', '"mean((z - y)**2) * (1/0)"'), [LOSS, "not finite"]),
    ("size bomb", edit('"x @ W + b"', '"x @ W + b + sum(ones(1000000, 1000000))"'),
     [Z, "(1000000, 1000000)", "elements"]),
    # shapes
    ("matmul shapes", edit("W = [3, 2]", "W = [4, 2]"), [Z, "'x @ W + b'", "(n, 3) @ (4, 2)"]),
    ("transposed matmul shapes", edit('"x @ W + b"', '"x @ W.T + b"'), [Z, "(n, 3) @ (2, 3)"]),
    ("matmul with a number", edit('"x @ W + b"', '"x @ 2 + b"'), [Z, "(n, 3) and ()", "use '*'"]),
    ("broadcast shapes", edit("b = [2]", "b = [3]"), [Z, "(n, 2) and (3,)", "do not broadcast"]),
    ("loss broadcast shapes", edit('"mean((z - y)**2)"', '"mean((z - x)**2)"'), [LOSS, "(n, 2) and (n, 3)"]),
    ("concat shapes", edit('"x @ W + b"', '"concat(x @ W, ones(4, 1), axis=1) @ ones(3, 2) + b"'),
     [Z, "concat along axis 1", "(n, 2), (4, 1)"]),
    ("softmax axis", edit('"x @ W + b"', '"softmax(x @ W + b, axis=2)"'), [Z, "axis 2 is out of range", "2 dimension(s)"]),
    ("sum axis", edit('"mean((z - y)**2)"', '"mean(sum((z - y)**2, axis=3))"'), [LOSS, "axis 3 is out of range"]),
    ("softmax of a scalar", edit('"mean((z - y)**2)"', '"mean((z - y)**2) + sum(softmax(mean(z)))"'),
     [LOSS, "softmax needs a vector or matrix"]),
    ("outer of matrices", edit('"x @ W + b"', '"x @ W + b + sum(outer(x, x))"'), [Z, "outer needs two vectors", "(n, 3)"]),
    ("non-scalar loss", edit('"mean((z - y)**2)"', '"(z - y)**2"'), [LOSS, "'(z - y)**2'", "shape (n, 2)", "scalar"]),
    ("five dimensions", edit("W = [3, 2]", "W = [3, 2, 2, 2, 2]"), ["'W'", "5 dimensions", "at most 4"]),
    ("zero dimension", edit("W = [3, 2]", "W = [3, 0]"), ["'W'", "dimension 0", "between 1 and"]),
    ("float dimension", edit("W = [3, 2]", "W = [3, 2.5]"), ["'W'", "dimension 2.5"]),
    ("bool dimension", edit("W = [3, 2]", "W = [3, true]"), ["'W'", "dimension True"]),
    ("shape not a list", edit("W = [3, 2]", 'W = "3x2"'), ["'W'", "must be a list"]),
    # structure of the file
    ("toml syntax", GOOD.replace("[params]", "[params"), ["TOML syntax error", "line 5"]),
    ("missing params", GOOD.replace("[params]\nW = [3, 2]\nb = [2]\n", ""), ["missing [params]"]),
    ("empty params", GOOD.replace("W = [3, 2]\nb = [2]\n", ""), ["[params] is empty"]),
    ("unused parameter", edit("b = [2]", "b = [2]\nc = [2]"), ["'c'", "does not influence the loss"]),
    ("parameter only through step", edit('"x @ W + b"', '"step(x @ W) + b"'),
     ["'W'", "only through step", "no derivative", "no gradient"]),
    ("missing loss", GOOD.replace('[loss]\nexpr = "mean((z - y)**2)"\n', ""), ["missing [loss]"]),
    ("loss with two keys", edit('expr = "mean((z - y)**2)"', 'expr = "mean((z - y)**2)"\nweight = 2'),
     [LOSS, "exactly one key"]),
    ("unknown top-level key", "version = 2\n" + GOOD, ["unknown key(s) version"]),
    ("nodes not a table", GOOD.replace('[nodes]\nz = "x @ W + b"\n', "").replace('name = "net"', 'name = "net"\nnodes = 3'),
     ["[nodes] must be a table"]),
    ("node not a string", edit('z = "x @ W + b"', "z = 3"), [Z, "must be an expression string"]),
    ("latex names nothing", GOOD + '[latex]\nV = "V"\n', ["[latex] names 'V'"]),
]


def test_the_table_is_large_and_labels_are_unique():
    assert len(BAD) >= 30
    assert len({label for label, _, _ in BAD}) == len(BAD)


@pytest.mark.parametrize("label, text, fragments", BAD, ids=[case[0] for case in BAD])
def test_bad_spec_is_one_line_exit_2_and_writes_nothing(label, text, fragments, tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    status = main(["derive", str(spec), "-o", str(out)])
    captured = capsys.readouterr()
    err = captured.err
    assert status == 2, err
    assert err.startswith("symgrad: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and captured.out == ""
    assert str(spec) in err, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert not out.exists()


def test_the_good_spec_itself_passes(tmp_path):
    spec = tmp_path / "good.toml"
    spec.write_text(GOOD)
    assert main(["derive", str(spec), "-o", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize("label", ["undefined name", "size bomb", "toml syntax"])
def test_the_real_program_prints_no_traceback(label, tmp_path):
    text = next(t for name, t, _ in BAD if name == label)
    spec = tmp_path / "bad.toml"
    spec.write_text(text, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "symgrad", "derive", str(spec), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("raw, fragment", [
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"", "missing 'name'"),
])
def test_unreadable_files_are_one_line(raw, fragment, tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_bytes(raw)
    assert main(["derive", str(spec), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and str(spec) in err
