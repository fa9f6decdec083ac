"""Profile makemore_backprop against torch autograd, as the exercise checks it.

The net is built here in torch float32 from the exercise's facts (an embedding of
(32, 3) indices into C (27, 10), flatten, linear, batch norm with Bessel's
correction, tanh, linear, the max logit subtracted, softmax by exp / sum / pow,
mean NLL of integer labels), every intermediate kept with retain_grad(); each
adjoint of the generated module is compared as the exercise's cmp() does:
exact equality first, then closeness with the largest absolute difference.
"""

import importlib.util

import pytest

torch = pytest.importorskip("torch")

from symgrad.profiles import render  # noqa: E402

NAMES = ["logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes", "logits",
         "h", "W2", "b2", "hpreact", "bngain", "bnbias", "bnraw", "bnvar_inv", "bnvar", "bndiff2", "bndiff",
         "bnmeani", "hprebn", "embcat", "W1", "b1", "emb", "C"]
#: adjoints the generated code computes with the same float32 operations, in the same order, as
#: autograd's backward: measured exactly equal at every seed below (torch 2.13, CPU). From dhpreact on
#: the differences are rounding (at most 6e-9): torch's tanh backward evaluates 1 - y*y in one fused
#: kernel, and every later adjoint inherits that last bit.
EXACT = {"logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes", "logits",
         "h", "W2", "b2"}


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    filename, text = render("makemore_backprop")
    path = tmp_path_factory.mktemp("mm") / filename
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("makemore_backprop_generated", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def exercise(seed: int, batch: int = 32, repeat: bool = True, hidden: int = 64):
    """(params, forward tensors, Xb, Yb, loss): the exercise's net in float32, every
    intermediate a leaf of the graph with its gradient retained."""
    g = torch.Generator().manual_seed(seed)
    vocab, emb_dim, block = 27, 10, 3
    p = {"C": torch.randn((vocab, emb_dim), generator=g),
         "W1": torch.randn((block * emb_dim, hidden), generator=g) * (5 / 3) / (block * emb_dim) ** 0.5,
         "b1": torch.randn(hidden, generator=g) * 0.1,
         "W2": torch.randn((hidden, vocab), generator=g) * 0.1,
         "b2": torch.randn(vocab, generator=g) * 0.1,
         "bngain": torch.randn((1, hidden), generator=g) * 0.1 + 1.0,
         "bnbias": torch.randn((1, hidden), generator=g) * 0.1}
    for t in p.values():
        t.requires_grad_()
    Xb = torch.randint(0, vocab, (batch, block), generator=g)
    if repeat:
        Xb[1] = Xb[0]                    # the same characters twice: dC must add both rows
        Xb[2, 0] = Xb[2, 1]
    Yb = torch.randint(0, vocab, (batch,), generator=g)
    n = batch
    f = {}
    f["emb"] = p["C"][Xb]
    f["embcat"] = f["emb"].view(n, -1)
    f["hprebn"] = f["embcat"] @ p["W1"] + p["b1"]
    f["bnmeani"] = f["hprebn"].sum(0, keepdim=True) / n
    f["bndiff"] = f["hprebn"] - f["bnmeani"]
    f["bndiff2"] = f["bndiff"] ** 2
    f["bnvar"] = f["bndiff2"].sum(0, keepdim=True) / (n - 1)
    f["bnvar_inv"] = (f["bnvar"] + 1e-5) ** -0.5
    f["bnraw"] = f["bndiff"] * f["bnvar_inv"]
    f["hpreact"] = p["bngain"] * f["bnraw"] + p["bnbias"]
    f["h"] = torch.tanh(f["hpreact"])
    f["logits"] = f["h"] @ p["W2"] + p["b2"]
    f["logit_maxes"] = f["logits"].max(1, keepdim=True).values
    f["norm_logits"] = f["logits"] - f["logit_maxes"]
    f["counts"] = f["norm_logits"].exp()
    f["counts_sum"] = f["counts"].sum(1, keepdim=True)
    f["counts_sum_inv"] = f["counts_sum"] ** -1
    f["probs"] = f["counts"] * f["counts_sum_inv"]
    f["logprobs"] = f["probs"].log()
    loss = -f["logprobs"][torch.arange(n), Yb].mean()
    for t in f.values():
        t.retain_grad()
    loss.backward()
    return p, f, Xb, Yb, loss


def cmp(got, want):
    """(exact, approximate, max abs difference), as the exercise's cmp reports them."""
    exact = bool(torch.all(got == want))
    approx = bool(torch.allclose(got, want))
    return exact, approx, float((got - want).abs().max())


def _ours(module, p, f, Xb, Yb):
    params = {k: v.detach() for k, v in p.items()}
    cache = {k: v.detach() for k, v in f.items()}
    cache["unrelated"] = "a notebook's globals() holds more than the forward tensors"
    with torch.no_grad():
        return module.backward(params, cache, Xb, Yb)


def _true_grad(name, p, f):
    return (p[name] if name in p else f[name]).grad


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_adjoint_against_autograd_with_cmp(module, seed, capsys):
    p, f, Xb, Yb, _ = exercise(seed)
    got = _ours(module, p, f, Xb, Yb)
    assert list(got) == [f"d{n}" for n in NAMES]
    rows = []
    for name in NAMES:
        ours, truth = got[f"d{name}"], _true_grad(name, p, f)
        assert ours.dtype == torch.float32 and ours.shape == truth.shape, name
        exact, approx, maxdiff = cmp(ours, truth)
        rows.append((name, exact, approx, maxdiff))
        assert approx, (name, maxdiff)
        if name in EXACT:
            assert exact, (name, maxdiff)
    with capsys.disabled():
        print(f"\nseed {seed}: " + ", ".join(f"d{n} {'exact' if e else f'{m:.1e}'}" for n, e, _, m in rows))


def test_dC_adds_the_rows_of_repeated_indices(module):
    p, f, Xb, Yb, _ = exercise(5)
    got = _ours(module, p, f, Xb, Yb)["dC"]
    demb = f["emb"].grad
    assert torch.allclose(got, p["C"].grad)
    row = int(Xb[0, 0])
    # the row of a repeated index gets every place it was used, not the last one
    places = (Xb == row).nonzero().tolist()
    assert len(places) >= 2
    assert torch.allclose(got[row], sum(demb[i, j] for i, j in places))


def test_other_batch_sizes(module):
    for batch in (5, 100):
        p, f, Xb, Yb, _ = exercise(7, batch=batch, repeat=False)
        got = _ours(module, p, f, Xb, Yb)
        for name in NAMES:
            assert torch.allclose(got[f"d{name}"], _true_grad(name, p, f), atol=1e-6), (batch, name)


def test_another_hidden_size_through_spec(tmp_path):
    """--spec: the same net with 8 hidden units (the exercise's file with 64 replaced)."""
    from symgrad.spec import bundled_dir
    text = (bundled_dir() / "courses" / "makemore.toml").read_text().replace("64", "8")
    spec = tmp_path / "makemore8.toml"
    spec.write_text(text)
    filename, code = render("makemore_backprop", str(spec))
    path = tmp_path / filename
    path.write_text(code)
    loaded = importlib.util.spec_from_file_location("makemore8", path)
    m = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(m)
    p, f, Xb, Yb, _ = exercise(11, hidden=8)
    got = _ours(m, p, f, Xb, Yb)
    for name in NAMES:
        assert torch.allclose(got[f"d{name}"], _true_grad(name, p, f), atol=1e-6), name


def test_fused_dlogits_against_autograd(module):
    p, f, Xb, Yb, _ = exercise(3)
    with torch.no_grad():
        got = module.dlogits_fused(f["logits"].detach(), Yb)
    exact, approx, maxdiff = cmp(got, f["logits"].grad)
    assert got.dtype == torch.float32 and approx and maxdiff < 1e-8, maxdiff


def test_fused_batchnorm_backward_against_autograd(module):
    p, f, Xb, Yb, _ = exercise(4)
    import inspect
    args = list(inspect.signature(module.dhprebn_fused).parameters)
    assert args[0] == "dhpreact" and set(args) <= set(f) | set(p) | {"dhpreact"}
    given = {"dhpreact": f["hpreact"].grad, **{k: v.detach() for k, v in {**p, **f}.items()}}
    with torch.no_grad():
        got = module.dhprebn_fused(**{a: given[a] for a in args})
    exact, approx, maxdiff = cmp(got, f["hprebn"].grad)
    assert got.dtype == torch.float32 and approx and maxdiff < 1e-6, maxdiff


def test_the_module_is_rendered_not_written_by_hand(monkeypatch):
    """Its statements follow the derivation: a different rule for max changes the code."""
    import dataclasses

    from symgrad.rules import RULES, apply
    from symgrad.rules.reduce import expand_back
    _, text = render("makemore_backprop")
    assert "first_extremum(logits, 1, False)" in text and "scatter_rows(d_emb, Xb, 27)" in text
    assert "import numpy" not in text and "np." not in text
    rule = RULES["max"]

    def lowest(g, r, a, axis=None, keepdims=False):
        return apply("mul", expand_back(g, a, axis, keepdims), apply("first_extremum", a, axis=1, lowest=True))

    monkeypatch.setitem(RULES._rules, "max", dataclasses.replace(rule, vjps=(lowest,)))
    _, changed = render("makemore_backprop")
    assert "first_extremum(logits, 1, True)" in changed and "first_extremum(logits, 1, False)" not in changed


# -- grading -------------------------------------------------------------------------

MISTAKES = {
    # the sum over each row left out: one value per entry instead of one per row
    "no_row_sum": ("    d_counts_sum_inv = torch.sum(d_probs * counts, dim=1, keepdim=True)\n",
                   "    d_counts_sum_inv = d_probs * counts\n", "backward.dcounts_sum_inv"),
    # repeated indices written over, not added: the last use of a row wins
    "dC_assigned": ("    d_C = scatter_rows(d_emb, Xb, 27)\n",
                    "    d_C = torch.zeros((27, 10))\n    d_C[Xb.reshape(-1)] = d_emb.reshape(-1, 10)\n", "backward.dC"),
    # Bessel's correction forgotten in the variance's adjoint
    "no_bessel": ("(1/(B - 1) * d_bnvar)", "(1/B * d_bnvar)", "backward.dbndiff2"),
    # the fused batch-norm backward without the mean's term
    "fused_no_mean": (" + 1/B * torch.sum(-(dhpreact", " + 0 * torch.sum(-(dhpreact", "dhprebn_fused"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from symgrad.verify.code import Checker
    folder = tmp_path_factory.mktemp("subs")
    filename, text = render("makemore_backprop")
    (folder / "reference.py").write_text(text)
    for name, (old, new, _) in MISTAKES.items():
        assert text.count(old) == 1, name
        (folder / f"{name}.py").write_text(text.replace(old, new))
    with Checker("makemore", "makemore_backprop", time_limit=60) as checker:
        return {path.stem: checker.check(path) for path in sorted(folder.glob("*.py"))}


def test_the_profile_grades_its_own_output_correct(graded):
    report = graded["reference"]
    assert [f.status for f in report.functions] == ["correct"] * 28
    assert [f.name for f in report.functions][:2] == ["backward.dlogprobs", "backward.dprobs"]


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_seeded_mistake_is_named(graded, mistake):
    """The adjoint with the mistake is wrong with no wrong adjoint under it; every other wrong
    one rests on a wrong one (the report says which)."""
    report = graded[mistake]
    wrong = {f.name: f for f in report.functions if f.status != "correct"}
    origin = MISTAKES[mistake][2]
    assert origin in wrong and wrong[origin].status == "wrong"
    assert wrong[origin].calls_not_correct == [] and "which" not in wrong[origin].message
    inherited = [f for name, f in wrong.items() if name != origin]
    assert all(f.calls_not_correct for f in inherited), [f.name for f in inherited if not f.calls_not_correct]
    if mistake == "dC_assigned":
        assert list(wrong) == ["backward.dC"]


def test_grade_on_the_command_line_takes_the_course_spec(tmp_path):
    import subprocess
    import sys
    filename, text = render("makemore_backprop")
    (tmp_path / "alice.py").write_text(text)
    old, new, _ = MISTAKES["dC_assigned"]
    (tmp_path / "bob.py").write_text(text.replace(old, new))
    run = subprocess.run([sys.executable, "-m", "symgrad", "grade", str(tmp_path), "--profile", "makemore_backprop",
                          "--jobs", "1", "--time-limit", "60"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    rows = (tmp_path / "grades.csv").read_text().splitlines()
    assert "bob.py,backward.dC,wrong" in "\n".join(rows)
    assert sum(1 for r in rows if r.startswith("alice.py,") and ",correct," in r) == 28
    # a course without a spec of its own still needs --spec: one line, exit 2
    run = subprocess.run([sys.executable, "-m", "symgrad", "grade", str(tmp_path), "--profile", "nodes"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "needs --spec" in run.stderr
