"""Every equality a write-up displays reads back as the right formula (``symgrad latex --check``).

The chain-rule lines, gradient and forward tables, Jacobians, expanded forms and
entry-by-entry lines of each net are parsed back with symgrad's own LaTeX reader
under BOTH usual conventions for a product chain (left to right, and
juxtaposition before \\odot) and proven (or checked at random points) equal to
the derivation: :mod:`symgrad.emit.latex_check`. A formula that needs a
convention to type-check (``X^\\top G \\odot D``) fails one of the two readings.
The nets are the bundled specs, the user-style nets in tests/data and its
catalogue (tests/data/catalogue), and randomly generated nets (hypothesis).
"""

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symgrad import Spec, derive
from symgrad.emit.latex_check import check_writeup, claims_of
from symgrad.emit.latex_doc import doc_printer
from symgrad.emit.latex_sections import build

from conftest import BUNDLED

DATA = Path(__file__).parent / "data"
CATALOGUE = sorted(DATA.glob("*.toml")) + sorted((DATA / "catalogue").glob("*.toml"))

#: multiclass declares no input kind; its document collapses softmax + NLL to p - y and says in
#: prose that this uses y summing to 1, so its formulas are read with y one-hot
ASSUMED = {"multiclass": {"y": "onehot"}}


def _derivation(spec):
    d = derive(spec)
    if isinstance(spec, str) and spec in ASSUMED:
        import dataclasses

        from symgrad.kinds import InputKind
        kinds = {**d.spec.kinds, **{k: InputKind(v) for k, v in ASSUMED[spec].items()}}
        d = derive(dataclasses.replace(d.spec, kinds=kinds))
    return d


def check(spec, sections=None):
    """The check's report for one net (short proofs: the suite runs it on many nets)."""
    d = _derivation(spec)
    w = build(d, doc_printer(d), sections=sections)
    return check_writeup(d.textbook, w, proof_limit=2.0), w


def _failure(report):
    bad = report.failure
    return None if bad is None else (bad.section, bad.claim.lhs, bad.claim.tex, bad.message)


@pytest.mark.parametrize("spec", list(BUNDLED) + [str(p) for p in CATALOGUE],
                         ids=list(BUNDLED) + [p.stem for p in CATALOGUE])
def test_every_displayed_equality_reads_back_under_both_conventions(spec):
    report, w = check(spec)
    assert _failure(report) is None
    kinds = {c.kind for _, c in claims_of(w)}
    assert {"value", "adjoint"} <= kinds   # forward tables and gradients are both claimed


def test_the_catalogue_has_at_least_twelve_nets_beyond_the_bundled_ones():
    names = {derive(str(p)).spec.name for p in CATALOGUE}
    assert len(names - set(BUNDLED)) >= 12


def test_every_section_with_equalities_states_them_as_data():
    _, w = check("pset3")
    claimed = {s.title for s, c in [(s, c) for s in w.sections for b in s.blocks for c in b.claims]}
    assert claimed >= {"Forward pass", "Gradients", "The chain rule, step by step", "Entry by entry",
                       "Fully expanded forms"}


def _old_mul(args, node, ctx):
    """\\odot at the level of juxtaposition (the printer before issue 17)."""
    from symgrad.rules.core import MUL, Printed, wrap
    a, b = node.args
    sep = " " if a.ndim == 0 or b.ndim == 0 else r" \odot "
    return Printed(f"{wrap(args[0], MUL)}{sep}{wrap(args[1], MUL + 1)}", MUL)


def test_the_old_printer_fails_the_check(monkeypatch):
    """Restored, the old precedence prints (G \\odot D) W^\\top as G \\odot D W^\\top: the check fails."""
    import dataclasses

    from symgrad.rules import RULES
    monkeypatch.setitem(RULES._rules, "mul", dataclasses.replace(RULES["mul"], latex=_old_mul))
    report, _ = check(str(DATA / "batch_tanh_softmax.toml"), sections=["gradients", "chain"])
    assert report.failure is not None
    assert "juxtaposition" in report.failure.message or "left to right" in report.failure.message


def test_a_wrong_formula_is_named_and_exits_1(tmp_path, monkeypatch):
    """The CLI names the first formula that fails (here: a transpose the printer drops)."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, dataclasses\n"
        "from symgrad.rules import RULES, Printed\n"
        "from symgrad.cli import main\n"
        "RULES._rules['transpose'] = dataclasses.replace(RULES['transpose'], latex=lambda a, n, c: a[0])\n"
        f"sys.exit(main(['latex', {str(DATA / 'column_sigmoid.toml')!r}, '--check', '--sections', 'gradients']))\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert "FAILED in 'Gradients'" in run.stderr and r"\frac{\partial" in run.stderr
    assert "Traceback" not in run.stderr


def test_check_passes_with_counts_and_progress(tmp_path):
    out = tmp_path / "key.tex"
    run = subprocess.run([sys.executable, "-m", "symgrad", "latex", "linear_regression", "--check",
                          "--sections", "forward,gradients", "-o", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "[1/" in run.stderr and "displayed equalities verified" in run.stderr
    assert out.exists()


def test_time_limit_without_check_is_refused():
    run = subprocess.run([sys.executable, "-m", "symgrad", "latex", "linear_regression", "--time-limit", "5"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "--check" in run.stderr and "Traceback" not in run.stderr


ACTS = ["tanh", "sigmoid", "relu", "softplus"]


@st.composite
def nets(draw):
    """A random 1-2 layer net, examples as rows or as columns, with an element-wise
    product of two branches and a transpose somewhere."""
    rows = draw(st.booleans())
    din, dh, dout = (draw(st.integers(2, 4)) for _ in range(3))
    a1, a2 = draw(st.sampled_from(ACTS)), draw(st.sampled_from(ACTS))
    if rows:
        inputs = {"X": ["n", din], "Y": ["n", dout]}
        params = {"W1": [din, dh], "b1": [dh], "V": [din, dh], "W2": [dh, dout]}
        nodes = {"A": f"{a1}(X @ W1 + b1)", "B": f"{a2}(X @ V)", "H": "A * B" if draw(st.booleans()) else "A * B + A",
                 "Z": "H @ W2"}
    else:
        inputs = {"X": [din, "n"], "Y": [dout, "n"]}
        params = {"W1": [dh, din], "b1": [dh, 1], "V": [din, dh], "W2": [dout, dh]}
        nodes = {"A": f"{a1}(W1 @ X + b1)", "B": f"{a2}(V.T @ X)", "H": "A * B" if draw(st.booleans()) else "B - A * B",
                 "Z": "W2 @ H"}
    return Spec(name="random_net", inputs=inputs, params=params, nodes=nodes, loss="sum((Z - Y)**2)",
                latex={"A": "A", "B": "B", "H": "H", "Z": "Z", "V": "V"})


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(nets())
def test_random_nets_read_back(spec):
    report, _ = check(spec, sections=["gradients", "chain"])
    assert _failure(report) is None


@pytest.mark.parametrize("spec", ["multiclass", "hw1_relu_sigmoid_bce", "linear_regression"])
def test_jacobians_in_denominator_layout_read_back(spec):
    d = _derivation(spec)
    w = build(d, doc_printer(d), sections=["chain"], layout="denominator")
    report = check_writeup(d.textbook, w, proof_limit=2.0)
    assert _failure(report) is None
    assert any(r"\partial" in c.lhs.split("=")[0] and "=" in c.lhs for _, c in claims_of(w))   # a Jacobian claimed
