"""Hostile answers through the command line: never an internal error, never a hang.

Every string of tests/hostile_strings.py goes through ``symgrad verify
titanic --wrt W1 --answer/--latex`` by ``symgrad.cli.main``; a refusal is exit
status 2 with one line on stderr that names the option (``--answer``/``--latex``),
never exit 3 and never a traceback. A few go through a real ``python -m
symgrad`` process, and a few through the spec-expression path.

Each call runs in a fork of this process (no new interpreter: the same
imports, the derivation already built) that is killed when it has not
answered within HANG seconds, and may not map more than 2 GB beyond what this
process has. An alarm in this process would not do: the bombs this suite
exists for were single C operations (``10 ** 9999999`` for a Fraction, a
7 TiB ``np.zeros``) that a signal handler cannot interrupt. How fast the
refusals are is measured by benchmarks/hostile_answers.py, not here: HANG is
only hang detection, far above anything a refusal takes.
"""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hostile_strings import ANSWERS, GOOD, GOOD_LATEX, LATEX, REFUSED
from hostile_strings import in_fork as _in_fork
from pset3_submissions import CORRECT
from symgrad.cli import main
from symgrad.errors import SymgradError
from symgrad.verify.code import MAX_NOTEBOOK_BYTES, notebook_functions, read_notebook
from symgrad.verify.env import load_derivation

ROOT = Path(__file__).resolve().parents[1]
HANG = 30        # seconds
HEADROOM = 2 << 30


def in_fork(fn, *args, hang=HANG):
    """fn(*args) in a forked child (hostile_strings.in_fork): its result, or pytest.fail on a hang or a crash."""
    got = _in_fork(fn, *args, hang=hang, headroom=HEADROOM)
    if got is None:
        pytest.fail(f"no answer within {hang} s (a hang), or the child died (killed, or out of memory)")
    kind, value = got
    if kind != "ok":
        pytest.fail(f"raised out of main: {value}")
    return value


def _main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def cli(argv):
    """(exit status, stdout, stderr) of ``symgrad ARGV``, in a fork."""
    return in_fork(_main, argv)


@pytest.fixture(scope="module", autouse=True)
def built():
    load_derivation("titanic")   # once, here: every fork inherits it


def run_verify(option, text):
    return cli(["verify", "titanic", "--wrt", "W1", option, text, "--time-limit", "1"])


def assert_answered(option, text, allowed, status, out, err):
    assert status != 3, err
    assert status in allowed, (status, out, err)
    assert "Traceback" not in err + out and "internal error" not in err
    if status == 2 and err:
        assert err.startswith(f"symgrad: error: {option}: "), err
        assert err.count("\n") == 1 and err.endswith("\n"), err
        assert out == ""
        assert err[:-1].isprintable(), err   # nothing raw (controls, bidi) reaches the terminal
    else:
        assert err == "", err
        verdict = out
        if out.startswith("read as: "):   # how it was read, when it lowers to an expression
            assert out.split("\n", 1)[0].isprintable(), out
            verdict = out.split("\n", 1)[1]
        assert verdict.split(" ", 1)[0].rstrip(":") in ("correct", "incorrect", "undetermined"), out
    if allowed == REFUSED:
        assert err, f"{text!r} was not refused: {out}"


def test_the_tables_are_large_and_labels_unique():
    labels = [label for label, _, _ in ANSWERS + LATEX]
    assert len(labels) >= 80 + 40
    assert len(set(labels)) == len(labels)
    assert sum(allowed == REFUSED for _, _, allowed in ANSWERS + LATEX) >= 80


def test_the_good_answers_are_correct():
    for option, text in (("--answer", GOOD), ("--latex", GOOD_LATEX)):
        status, out, err = run_verify(option, text)
        assert status == 0 and out.split("\n")[1].startswith("correct"), (out, err)


@pytest.mark.parametrize("label, text, allowed", ANSWERS, ids=[a[0] for a in ANSWERS])
def test_hostile_answer(label, text, allowed):
    status, out, err = run_verify("--answer", text)
    assert_answered("--answer", text, allowed, status, out, err)


@pytest.mark.parametrize("label, text, allowed", LATEX, ids=[a[0] for a in LATEX])
def test_hostile_latex(label, text, allowed):
    status, out, err = run_verify("--latex", text)
    assert_answered("--latex", text, allowed, status, out, err)


@pytest.mark.parametrize("label, fragment", [
    ("exp-neg-huge", "exponent -9999999"),
    ("exp-zero-huge", "exponent 9999999"),
    ("const-power-tower", "bits"),
    ("const-divide-zero-power", "negative power"),
    ("broadcast-4d", "(1000000, 1000000, 4, 4)"),
    ("broadcast-symbolic", "limit"),
    ("ones-big", "(100000, 1000)"),
    ("work-bomb", "elements"),
    ("long-product", "operations deep"),
    ("long-transpose", "operations deep"),
    ("slice-huge", "slice bounds"),
    ("expand-axis-huge", "axis"),
    ("arabic-digit", "U+0661"),
    ("u2028", "U+2028"),
    ("nbsp", "U+00A0"),
    ("bidi-override", "U+202E"),
    ("nul", "'\\x00'"),
    ("deep-unary", "nests deeper"),
])
def test_the_refusal_says_what_and_where(label, fragment):
    text = next(t for name, t, _ in ANSWERS if name == label)
    status, out, err = run_verify("--answer", text)
    assert status == 2 and fragment in err, err


@pytest.mark.parametrize("label, fragment", [
    ("tex-long-juxt", "operations deep"),
    ("tex-long-transpose", "operations deep"),
    ("tex-power-tower", "bits"),
    ("tex-number-huge", "60 characters"),
    ("tex-u2028", "U+2028"),
    ("tex-unicode-digit", "U+0661"),
    ("tex-input", r"\\input"),
])
def test_the_latex_refusal_says_what_and_where(label, fragment):
    text = next(t for name, t, _ in LATEX if name == label)
    status, out, err = run_verify("--latex", text)
    assert status == 2 and fragment in err, err


def test_a_negative_answer_is_not_taken_for_an_option():
    status, out, err = run_verify("--answer", "-" + GOOD)
    assert status == 1 and "sign_error" in out, (out, err)


def test_json_format_reports_unusable_not_internal_error():
    for label in ("exp-neg-huge", "long-product", "broadcast-4d", "nul"):
        text = next(t for name, t, _ in ANSWERS if name == label)
        status, out, err = cli(["verify", "titanic", "--wrt", "W1", "--answer", text, "--format", "json"])
        assert status == 2, (out, err)
        assert json.loads(out)["verdict"] == "unusable"


# -- the real command line ------------------------------------------------------------

@pytest.mark.parametrize("option, label", [
    ("--answer", "exp-neg-huge"), ("--answer", "exp-zero-huge"), ("--answer", "broadcast-4d"),
    ("--answer", "long-matmul"), ("--answer", "u2028"), ("--answer", "escape-seq"),
    ("--latex", "tex-power-tower"), ("--latex", "tex-long-juxt"),
])
def test_through_a_real_process(option, label):
    table = ANSWERS if option == "--answer" else LATEX
    text = next(t for name, t, _ in table if name == label)
    result = subprocess.run([sys.executable, "-m", "symgrad", "verify", "titanic", "--wrt", "W1", option, text],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"symgrad: error: {option}: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- the spec-expression path -------------------------------------------------------

SPEC = '''name = "net"
[inputs]
x = ["n", 3]
y = ["n", 2]
[params]
W = [3, 2]
[nodes]
z = {expr}
[loss]
expr = "mean((z - y)**2)"
'''


def toml_string(text: str) -> str:
    return '"' + "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
                         for c in text) + '"'


@pytest.mark.parametrize("text, fragment", [
    ("1e-9999999 * x @ W", "exponent"),
    ("0e9999999 * x @ W", "exponent"),
    ("((((1e30)**64)**64)**64)**64 * x @ W", "bits"),
    ("(-8)**0.5 * x @ W", "finite real"),
    ("x @ W" + " * x @ W" * 120, "operations deep"),
    ("x @ W" + ".T.T" * 120, "operations deep"),
    ("x @ W + sum(ones(100000, 100000))", "elements"),
    ("\u0661 * x @ W", "U+0661"),
    ("x @ W\u2028", "U+2028"),
    ("x @ W\u00a0+ 0", "U+00A0"),
])
def test_hostile_spec_expression(text, fragment, tmp_path):
    spec = tmp_path / "net.toml"
    spec.write_text(SPEC.format(expr=toml_string(text)), encoding="utf-8")
    status, out, err = cli(["derive", str(spec), "-o", str(tmp_path / "out")])
    assert status == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and fragment in err, err
    assert not (tmp_path / "out").exists()


# -- notebooks (verify --code x.md) ---------------------------------------------------

def crafted_notebook(definitions: int = 2800) -> str:
    """A notebook exported as text: the pset3 solution in one block, then a block
    of thousands of small definitions (ast.get_source_segment made this quadratic)."""
    solution = "".join(CORRECT.values())
    filler = "".join(f"def helper_{i}(x):\n    return x\n" for i in range(definitions))
    return (f"# Problem set 3\n\n```python\n{solution}```\n\nsome text\n\n"
            f"```python\n{filler}print('demo')\n```\n")


def test_a_large_notebook_extracts_in_bounded_time():
    # 5 s is hang detection, not a speed target: linear extraction takes some
    # hundredths of a second; the quadratic one took 15.7 s for these 75 kB.
    text = crafted_notebook()
    assert len(text) > 70_000
    code = in_fork(notebook_functions, text, hang=5)
    assert code.count("\ndef helper_") + code.startswith("def helper_") == 2800
    assert "def mlp(x, W0, W1, W2):" in code and "print('demo')" not in code
    compile(code, "extracted", "exec")


def test_extraction_keeps_each_definition_exactly():
    text = ("```python\nimport numpy as np\ndef f(a,\n      b='\u00fc'):  # \u00e9\n    return a\nx = f(1)\n"
            "def g(): return '\u2713'\n```\n")
    assert notebook_functions(text) == ("import numpy as np\n\ndef f(a,\n      b='\u00fc'):  # \u00e9\n    return a\n\n"
                                        "def g(): return '\u2713'\n")


@pytest.mark.parametrize("block", [
    "def f(x):\n    return x\x00\n",               # NUL: ast refuses it
    "x = " + "(" * 300 + "1" + ")" * 300 + "\n",   # nesting beyond the parser
    "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "def broken(:\n",
])
def test_blocks_the_parser_cannot_take_are_skipped(block):
    text = f"```python\n{block}```\n```python\ndef kept(x):\n    return x\n```\n"
    assert in_fork(notebook_functions, text) == "def kept(x):\n    return x\n"


def test_extraction_stops_at_the_deadline():
    with pytest.raises(SymgradError, match="time limit"):
        notebook_functions(crafted_notebook(10), deadline=0.0)


def test_an_oversized_notebook_is_refused(tmp_path):
    path = tmp_path / "huge.md"
    path.write_text("x" * (MAX_NOTEBOOK_BYTES + 1))
    with pytest.raises(SymgradError, match="limit"):
        read_notebook(path)


def test_a_large_notebook_is_judged_through_the_command_line(tmp_path):
    path = tmp_path / "solution.md"
    path.write_text(crafted_notebook())
    status, out, err = cli(["verify", "pset3", "--code", str(path), "--profile", "pset3"])
    assert status == 0, (out, err)
    assert " 0 wrong" in out and " 0 missing" in out, out


def test_a_large_wrong_answer_prints_an_elided_counterexample():
    # as large as an answer may be (2**20 entries): it used to print 22 MB
    status, out, err = run_verify("--answer", "broadcast_to(d_W1, 256, 256, 4, 4)")
    assert status == 1 and "shape (256, 256, 4, 4)" in out, err
    assert "(1048576 entries, shape (256, 256, 4, 4))" in out and len(out) < 20_000
