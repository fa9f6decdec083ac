"""Every gradient formula a write-up prints reads back as the right gradient.

The chain-rule lines and the gradient table of each net are parsed back with
symgrad's own LaTeX reader and proven (or checked at random points) equal to
the derivation, under BOTH usual conventions for a product chain:

* left to right, \\odot and juxtaposition at one level (the reader's own);
* juxtaposition (a matrix product) binding more tightly than \\odot.

A formula that needs a convention to type-check (``X^\\top G \\odot D``) fails
one of the two readings. The nets are the bundled specs, the user-style nets
in tests/data and randomly generated nets (hypothesis).
"""

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symgrad import Spec, derive
from symgrad.emit.latex_base import Context
from symgrad.emit.latex_chain import chain_section
from symgrad.emit.latex_doc import doc_printer
from symgrad.emit.latex_steps import adjoint_targets
from symgrad.parse import BinOp
from symgrad.verify import latex as reader
from symgrad.verify.answer import verify_tree

from conftest import BUNDLED

DATA = sorted(Path(__file__).parent.joinpath("data").glob("*.toml"))


class _TightJuxtaposition(reader._Reader):
    """The reader with juxtaposition binding more tightly than \\odot."""

    def term(self):
        node = self.product()
        while self.tok in (r"\odot", r"\circ"):
            pos = self.col()
            self.take()
            node = BinOp("*", node, self.product(), pos)
        return node

    def product(self):
        node = self.factor()
        while True:
            pos = self.col()
            if self.tok == "/":
                self.take()
                node = BinOp("/", node, self.factor(), pos)
            elif self.tok in (r"\cdot", r"\times"):
                self.take()
                node = self.juxt(node, self.factor(), pos)
            elif self.starts_factor():
                node = self.juxt(node, self.factor(), pos)
            else:
                return node


def _context(d):
    p = doc_printer(d)
    # the reader's spelling of an adjoint: \frac{\partial L}{\partial X} (or \ell where a node is L)
    loss = r"\ell" if "L" in {p.name_latex(n) for n in d.graph.variables()} else "L"
    p.adjoint = lambda n: r"\frac{\partial %s}{\partial %s}" % (loss, p.name_latex(n))
    c = Context(d, p, "numerator")
    # a chain term with a node's Jacobian in it: \frac{\partial h}{...}, not an adjoint
    c.jacobian = re.compile(r"\\frac\{\\partial (?!%s\})" % re.escape(loss))
    return c


def _formulas(c: Context):
    """(target, LaTeX) for each printed gradient: the chain lines and the table entries."""
    out = []
    for t in adjoint_targets(c.d):
        out.append((t, c.tex(c.best(t))))   # the tables' entry
    current = None
    lhs_of = {c.adj(t): t for t in adjoint_targets(c.d)}
    for block in chain_section(c):
        if block.kind != "align":
            continue
        rows = []
        for lhs, rhs in block.rows:   # a long line continues on rows whose lhs is None
            if lhs is None:
                rows[-1] = (rows[-1][0], rows[-1][1] + " " + rhs)
            else:
                rows.append((lhs, rhs))
        for lhs, rhs in rows:
            lhs = lhs.replace(r"\Rightarrow", "").strip()
            if lhs in lhs_of:
                current = lhs_of[lhs]
            elif lhs:
                current = None   # a Jacobian or entry-by-entry line
                continue
            if current is not None and not c.jacobian.search(rhs):
                out.append((current, rhs))
    return list(dict.fromkeys(out))


def _verdict(d, t, text, cls):
    tree = cls(text, d).parse()
    want = d.graph.variables()[t].shape
    got_ndim = reader._Reader(text, d).lowering.lower(tree).ndim
    if len(want) == got_ndim + 1 and 1 in want:
        # sum_k keeps the summed axis where the gradient's shape has it (b of shape 5 x 1)
        from fractions import Fraction

        from symgrad.parse import Call, Num
        tree = Call("expand_dims", (tree,), (("axis", Num(Fraction(list(want).index(1)), "0", 0)),), 0)
    return verify_tree(d, t, tree)


#: multiclass declares no input kind; its document collapses softmax + NLL to p - y and says in
#: prose that this uses y summing to 1, so its formulas are read with y one-hot
ASSUMED = {"multiclass": {"y": "onehot"}}


def roundtrip_failures(spec) -> list:
    d = derive(spec)
    if isinstance(spec, str) and spec in ASSUMED:
        import dataclasses

        from symgrad.kinds import InputKind
        kinds = {**d.spec.kinds, **{k: InputKind(v) for k, v in ASSUMED[spec].items()}}
        d = derive(dataclasses.replace(d.spec, kinds=kinds))
    c = _context(d)
    bad = []
    for t, text in _formulas(c):
        for cls in (reader._Reader, _TightJuxtaposition):
            try:
                v = _verdict(c.d, t, text, cls)
                ok, why = v.verdict == "correct", v.message
            except Exception as exc:  # noqa: BLE001 -- a formula that does not read back is a failure
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if not ok:
                bad.append((t, cls.__name__, text, why))
    return bad


@pytest.mark.parametrize("spec", list(BUNDLED) + [str(p) for p in DATA],
                         ids=list(BUNDLED) + [p.stem for p in DATA])
def test_every_printed_gradient_reads_back_under_both_conventions(spec):
    assert roundtrip_failures(spec) == []


def test_the_old_printer_fails_the_round_trip(monkeypatch):
    """\\odot at the level of juxtaposition (the printer before issue 17) prints
    (G \\odot D) W^\\top as G \\odot D W^\\top: the tight reading rejects it."""
    from symgrad.rules import RULES
    from symgrad.rules.core import MUL, Printed, wrap

    def old(args, node, ctx):
        a, b = node.args
        sep = " " if a.ndim == 0 or b.ndim == 0 else r" \odot "
        return Printed(f"{wrap(args[0], MUL)}{sep}{wrap(args[1], MUL + 1)}", MUL)

    import dataclasses
    monkeypatch.setitem(RULES._rules, "mul", dataclasses.replace(RULES["mul"], latex=old))
    bad = roundtrip_failures(str(DATA[0].parent / "batch_tanh_softmax.toml"))
    assert any(cls == "_TightJuxtaposition" for _, cls, _, _ in bad)


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


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(nets())
def test_random_nets_read_back(spec):
    assert roundtrip_failures(spec) == []
