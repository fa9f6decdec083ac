"""cs224n_word2vec profile: word2vec.py written by `symgrad profile cs224n_word2vec`, against
torch autograd and centered differences.

The facts tested: names and signatures, (loss, gradCenterVec, gradOutsideVecs)
returns, K=10 negative samples drawn through dataset.sampleTokenIdx() and redrawn
when equal to the outside word, a word sampled twice counting twice, and
skipgram summing over its window with gradients shaped like the vector tables.
"""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch

from symgrad.profiles import render_files


@pytest.fixture(scope="module")
def w2v(tmp_path_factory):
    (name, text), = render_files("cs224n_word2vec").items()
    path = tmp_path_factory.mktemp("w2v") / name
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("word2vec_generated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Dataset:
    """The course's dataset object, as far as word2vec uses it: sampleTokenIdx() from a fixed stream."""

    def __init__(self, stream):
        self.stream = list(stream)
        self.drawn = 0

    def sampleTokenIdx(self):
        self.drawn += 1
        return self.stream.pop(0)


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def torch_naive(v, o, U):
    tv, tU = t(v, True), t(U, True)
    loss = -torch.log_softmax(tU @ tv, dim=0)[o]
    loss.backward()
    return loss.item(), tv.grad.numpy(), tU.grad.numpy()


def torch_negsample(v, o, samples, U):
    tv, tU = t(v, True), t(U, True)
    loss = -torch.nn.functional.logsigmoid(tU[o] @ tv)
    for k in samples:                   # one term per draw: a repeated word counts again
        loss = loss - torch.nn.functional.logsigmoid(-(tU[k] @ tv))
    loss.backward()
    return loss.item(), tv.grad.numpy(), tU.grad.numpy()


def rel_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def numeric(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def test_the_profile_writes_word2vec_py(tmp_path):
    out = subprocess.run([sys.executable, "-m", "symgrad", "profile", "cs224n_word2vec", "-o", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "word2vec.py").is_file()


def test_sigmoid(w2v):
    x = np.array([[-800.0, -1.0], [0.0, 3.0]])
    assert np.allclose(w2v.sigmoid(x), 1 / (1 + np.exp(-np.clip(x, -700, 700))))


def test_naive_softmax_against_autograd_and_a_gradient_check(w2v):
    rng = np.random.default_rng(0)
    v, U = rng.normal(size=3), rng.normal(size=(5, 3))
    for o in range(5):
        loss, gv, gU = w2v.naiveSoftmaxLossAndGradient(v, o, U, Dataset([]))
        want = torch_naive(v, o, U)
        assert np.isclose(loss, want[0]) and gv.shape == v.shape and gU.shape == U.shape
        assert np.allclose(gv, want[1]) and np.allclose(gU, want[2])
        assert rel_error(numeric(lambda a, o=o: w2v.naiveSoftmaxLossAndGradient(a, o, U, None)[0], v.copy()), gv) < 1e-7


def test_negative_sampling_draws_k_through_the_dataset_and_adds_repeated_words(w2v):
    rng = np.random.default_rng(1)
    v, U = rng.normal(size=3), rng.normal(size=(5, 3))
    o = 2
    stream = [4, 2, 1, 1, 0, 4, 2, 2, 3, 1, 1, 0, 4, 3]    # 2 is the outside word: redrawn
    samples = [s for s in stream if s != o][:10]
    data = Dataset(stream)
    loss, gv, gU = w2v.negSamplingLossAndGradient(v, o, U, data)
    assert data.drawn == 13                                   # 10 kept and 3 redrawn
    want = torch_negsample(v, o, samples, U)
    assert np.isclose(loss, want[0]) and np.allclose(gv, want[1]) and np.allclose(gU, want[2])
    once = torch_negsample(v, o, sorted(set(samples)), U)     # what ignoring the repeats would give
    assert not np.allclose(gU, once[2])
    loss3, _, _ = w2v.negSamplingLossAndGradient(v, o, U, Dataset([1, 1, 1]), K=3)
    assert np.isclose(loss3, torch_negsample(v, o, [1, 1, 1], U)[0])


def test_skipgram_sums_over_the_window(w2v):
    rng = np.random.default_rng(2)
    word2Ind = {w: i for i, w in enumerate("abcde")}
    C, U = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    outside = ["a", "b", "e", "b"]
    loss, gC, gU = w2v.skipgram("c", 3, outside, word2Ind, C, U, Dataset([]))
    wants = [torch_naive(C[2], word2Ind[w], U) for w in outside]
    assert np.isclose(loss, sum(w[0] for w in wants))
    assert gC.shape == C.shape and np.allclose(gC[2], sum(w[1] for w in wants))
    assert np.all(gC[[0, 1, 3, 4]] == 0)
    assert np.allclose(gU, sum(w[2] for w in wants))
    stream = list(rng.integers(5, size=200))
    loss, gC, gU = w2v.skipgram("c", 3, outside, word2Ind, C, U, Dataset(stream), w2v.negSamplingLossAndGradient)
    total, gc, gu, rest = 0.0, 0, 0, [int(s) for s in stream]
    for w in outside:
        o = word2Ind[w]
        drawn = []
        while len(drawn) < 10:
            s = rest.pop(0)
            if s != o:
                drawn.append(s)
        want = torch_negsample(C[2], o, drawn, U)
        total, gc, gu = total + want[0], gc + want[1], gu + want[2]
    assert np.isclose(loss, total) and np.allclose(gC[2], gc) and np.allclose(gU, gu)


# -- grading -------------------------------------------------------------------------


def mutate(source: str, old: str, new: str) -> str:
    assert old in source, f"the generated file no longer contains {old!r}"
    return source.replace(old, new)


W2V = render_files("cs224n_word2vec")["word2vec.py"]
SKIPGRAM_NAIVE_ONLY = """
def skipgram(currentCenterWord, windowSize, outsideWords, word2Ind,
             centerWordVectors, outsideVectors, dataset,
             word2vecLossAndGradient=naiveSoftmaxLossAndGradient):
    loss = 0.0
    gradCenterVecs = np.zeros(centerWordVectors.shape)
    gradOutsideVectors = np.zeros(outsideVectors.shape)
    c = word2Ind[currentCenterWord]
    for w in outsideWords:
        l, gc, go = naiveSoftmaxLossAndGradient(centerWordVectors[c], word2Ind[w], outsideVectors, dataset)
        loss += l
        gradCenterVecs[c] += gc
        gradOutsideVectors += go
    return loss, gradCenterVecs, gradOutsideVectors
"""
MISTAKES = {
    "reference": (W2V, {}),
    # the negative-sampling gradient written back with assignment: a word drawn twice counts once
    "repeats_assigned": (mutate(W2V, "np.add.at(out, ix, g)", "out[ix] = g"),
                         {"negSamplingLossAndGradient": None, "skipgram": None}),
    "center_sign": (mutate(W2V, "d_v_c = U.T @ d_scores_1", "d_v_c = -(U.T @ d_scores_1)"),
                    {"naiveSoftmaxLossAndGradient": "sign_error", "skipgram": None}),
    "no_redraw": (mutate(W2V, "while newidx == outsideWordIdx:", "while False:"),
                  {"negSamplingLossAndGradient": None, "skipgram": None}),
    # a student's skipgram that always calls the naive loss, whatever word2vecLossAndGradient it is given
    "skipgram_naive_only": (W2V[:W2V.index("def skipgram(")] + SKIPGRAM_NAIVE_ONLY, {"skipgram": None}),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_the_grader_accepts_the_profile_and_names_a_seeded_mistake(tmp_path, name):
    from symgrad.verify.code import check_file
    source, wrong = MISTAKES[name]
    path = tmp_path / "word2vec.py"
    path.write_text(source)
    report = check_file("word2vec_naive", path, "cs224n_word2vec", time_limit=20, points=4)
    for f in report.functions:
        if f.name not in wrong:
            assert f.status == "correct", (f.name, f.status, f.message)
        else:
            assert f.status == "wrong", (f.name, f.status, f.message)
            if wrong[f.name] is not None:
                assert f.diagnosis[0]["mistake"] == wrong[f.name], f.diagnosis
    skipgram = next(f for f in report.functions if f.name == "skipgram")
    if name == "center_sign":
        assert skipgram.calls_not_correct == ["naiveSoftmaxLossAndGradient"]
    if name in ("repeats_assigned", "no_redraw"):     # skipgram is run with the student's own negSampling too
        assert skipgram.calls_not_correct == ["negSamplingLossAndGradient"], skipgram.message
        assert skipgram.counterexample["setting"].endswith("negSamplingLossAndGradient"), skipgram.counterexample
    if name == "skipgram_naive_only":
        assert skipgram.calls_not_correct == [], skipgram.message
        assert "negSamplingLossAndGradient" in skipgram.counterexample["setting"], skipgram.counterexample


def test_skipgram_with_a_stub_negative_sampling_is_not_judged(tmp_path):
    from symgrad.verify.code import check_file
    start = W2V.index("def negSamplingLossAndGradient(")
    end = W2V.index("def skipgram(")
    stub = ("def negSamplingLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset, K=10):\n"
            "    ### YOUR CODE HERE\n    raise NotImplementedError\n\n\n")
    path = tmp_path / "word2vec.py"
    path.write_text(W2V[:start] + stub + W2V[end:])
    report = check_file("word2vec_naive", path, "cs224n_word2vec", time_limit=20, points=2)
    status = {f.name: (f.status, f.message) for f in report.functions}
    assert status["negSamplingLossAndGradient"][0] == "not implemented", status
    assert status["naiveSoftmaxLossAndGradient"][0] == "correct", status
    assert status["skipgram"] == ("not judged", "not judged: negSamplingLossAndGradient not implemented"), status


def test_grade_a_folder(tmp_path):
    import json

    from symgrad.cli import main
    for name, (source, _) in MISTAKES.items():
        (tmp_path / "subs" / name).mkdir(parents=True)
        (tmp_path / "subs" / name / "word2vec.py").write_text(source)
    main(["grade", str(tmp_path / "subs"), "--spec", "word2vec_negsample", "--profile", "cs224n_word2vec",
          "--jobs", "1"])
    grades = json.loads((tmp_path / "subs" / "grades.json").read_text())["submissions"]
    bad = {name: sorted(f["function"] for f in sub["functions"] if f["verdict"] != "correct")
           for name, sub in grades.items()}
    assert bad == {name: sorted(wrong) for name, (_, wrong) in MISTAKES.items()}
