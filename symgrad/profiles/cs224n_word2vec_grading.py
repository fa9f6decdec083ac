"""Grading code written to CS224n's word2vec.py (:func:`plan`).

The calls are the course's: ``naiveSoftmaxLossAndGradient(centerWordVec,
outsideWordIdx, outsideVectors, dataset)``, ``negSamplingLossAndGradient(...,
K=K)`` and ``skipgram(currentCenterWord, windowSize, outsideWords, word2Ind,
centerWordVectors, outsideVectors, dataset)``. As in the course's own check,
the dataset is a plain object given a ``sampleTokenIdx`` attribute: here the
``__next__`` of an iterator over a fixed stream of word indices, so the
negative samples are known. The stream repeats a word (its gradient row must
add up) and draws the outside word itself (which the course's
``getNegativeSamples`` redraws). Expected values are the derivations of the
bundled specs word2vec_naive and word2vec_negsample.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import names as naming
from ..errors import SymgradError
from ..evaluate import EvalContext
from ..verify import env as envmod
from . import calls
from .plan import Case, Plan

SPECS = ("word2vec_naive", "word2vec_negsample")     # the bundled specs the course is derived from
KEYS = ("loss", "gradCenterVec", "gradOutsideVecs")


def add_split(out: Plan, script, case: Case) -> None:
    """One call judged twice: its gradients (diagnosed by the mistake catalogue), then its other values."""
    grads = {k: v for k, v in case.want.items() if k in case.wrt}
    rest = {k: v for k, v in case.want.items() if k not in case.wrt}
    out.add(script, replace(case, want=grads))
    if rest:
        out.cases.append(replace(case, want=rest, kind="value", derivation=None, point=None, wrt={}))


def dataset(slot: str, stream) -> tuple:
    """Steps making ``slot`` a plain object whose ``sampleTokenIdx()`` returns ``stream``'s items in turn."""
    const = calls.Const([int(s) for s in stream])
    return (calls.Leaf(slot, const),
            calls.Call("__getattribute__", (calls.Const("out"),), on=slot, into=slot + "_list"),
            calls.Call("__iter__", on=slot + "_list", into=slot + "_iter"),
            calls.Call("__getattribute__", (calls.Const("__next__"),), on=slot + "_iter", into=slot + "_next"),
            calls.SetAttr(slot, "sampleTokenIdx", calls.Slot(slot + "_next")))


def _saves(slot: str) -> tuple:
    return tuple(calls.Save(key, calls.Index(slot, i)) for i, key in enumerate(KEYS))


def _want(p) -> dict:
    return {"loss": p.values["loss"], "gradCenterVec": p.values[naming.adjoint("v_c")],
            "gradOutsideVecs": p.values[naming.adjoint("U")]}


def _shown(p, names) -> dict:
    return {n: np.round(np.asarray(p.values[n], dtype=float), 6) for n in names}


def _naive(out: Plan, d, count: int, seed: int) -> None:
    pts, _ = envmod.random_points(d, count, seed)
    for k, p in enumerate(pts):
        out.arrays[f"p{k}.naive.v_c"], out.arrays[f"p{k}.naive.U"] = p.values["v_c"], p.values["U"]
        out.arrays[f"p{k}.naive.o"] = np.asarray(p.values["o"]).reshape(-1)[0]
        cid = f"naive.p{k}"
        steps = dataset("data", []) + (
            calls.Call("naiveSoftmaxLossAndGradient", (calls.array(f"p{k}.naive.v_c"), calls.integer(f"p{k}.naive.o"),
                                                       calls.array(f"p{k}.naive.U"), calls.Slot("data")),
                       into="result"),)
        add_split(out, calls.Script(cid, "naiveSoftmaxLossAndGradient", steps + _saves("result")),
                Case("naiveSoftmaxLossAndGradient", cid, _want(p), _shown(p, ("v_c", "o", "U")), kind="gradient",
                     derivation=d, point=p, wrt={"gradCenterVec": "v_c", "gradOutsideVecs": "U"}))


def _negative(out: Plan, d, count: int, seed: int) -> None:
    pts, ctx = envmod.random_points(d, count, seed)
    for k, p in enumerate(pts):
        W = p.values["U"].shape[0]
        o = int(np.asarray(p.values["o"]).reshape(-1)[0])
        samples = [int(s) if int(s) != o else (o + 1) % W for s in p.values["k"]]
        samples[-1] = samples[0]                      # a word drawn twice
        p = envmod.Point(envmod.fill(d, dict(p.leaves(d), k=np.array(samples)), ctx))
        stream = [o] + samples[:1] + [o] + samples[1:]     # the outside word is drawn and redrawn
        out.arrays[f"p{k}.neg.v_c"], out.arrays[f"p{k}.neg.U"] = p.values["v_c"], p.values["U"]
        out.arrays[f"p{k}.neg.o"] = np.array(o)
        cid = f"negsample.p{k}"
        steps = dataset("data", stream) + (
            calls.Call("negSamplingLossAndGradient", (calls.array(f"p{k}.neg.v_c"), calls.integer(f"p{k}.neg.o"),
                                                      calls.array(f"p{k}.neg.U"), calls.Slot("data")),
                       {"K": calls.Const(len(samples))}, into="result"),)
        add_split(out, calls.Script(cid, "negSamplingLossAndGradient", steps + _saves("result")),
                Case("negSamplingLossAndGradient", cid, _want(p), dict(_shown(p, ("v_c", "U")), o=np.array(o),
                                                                         samples=np.array(samples)),
                     kind="gradient", derivation=d, point=p, wrt={"gradCenterVec": "v_c", "gradOutsideVecs": "U"},
                     setting=f"dataset.sampleTokenIdx() returns {stream} in turn (the outside word is {o})"))


def _window(rng, U) -> tuple:
    """(W, D, word names, a center-vector table, the center word, a window of 4 outside words whose
    last repeats its first): one skipgram case's setting."""
    W, D = U.shape
    table = np.round(rng.normal(size=(W, D)), 3)
    center = int(rng.integers(W))
    window = [int(i) for i in rng.integers(W, size=3)]
    return W, D, [f"w{i}" for i in range(W)], table, center, window + [window[0]]


def _skipgram(out: Plan, d, count: int, seed: int) -> None:
    """A window of outside words (one repeated) around a center word, with the naive loss (the default).
    (:func:`_skipgram_negative` calls it again with the negative-sampling loss.)"""
    rng = np.random.default_rng(seed + 11)
    ctx = EvalContext(envmod.test_sizes(d))
    pts, _ = envmod.random_points(d, count, seed + 5)
    for k, p in enumerate(pts):
        U = p.values["U"]
        W, D, words, table, center, window = _window(rng, U)
        loss, g_center, g_outside = 0.0, np.zeros((W, D)), np.zeros((W, D))
        for o in window:
            values = envmod.fill(d, {"v_c": table[center], "U": U, "o": np.array([o])}, ctx)
            loss += values["loss"]
            g_center[center] += values[naming.adjoint("v_c")]
            g_outside += values[naming.adjoint("U")]
        out.arrays[f"p{k}.skip.C"], out.arrays[f"p{k}.skip.U"] = table, U
        cid = f"skipgram.p{k}"
        outside = [words[o] for o in window]
        args = (calls.Const(words[center]), calls.Const(2), calls.Const(outside),
                calls.Const({w: i for i, w in enumerate(words)}), calls.array(f"p{k}.skip.C"),
                calls.array(f"p{k}.skip.U"), calls.Slot("data"))
        steps = dataset("data", []) + (calls.Call("skipgram", args, into="result"),)
        out.add(calls.Script(cid, "skipgram", steps + _saves("result")),
                Case("skipgram", cid, {"loss": loss, "gradCenterVec": g_center, "gradOutsideVecs": g_outside},
                     {"centerWordVectors": table, "outsideVectors": np.round(U, 6)},
                     setting=f"center word {words[center]!r}, outside words {outside}, the naive softmax loss",
                     after=("naiveSoftmaxLossAndGradient",)))


def _negative_stream(rng, W: int, o: int) -> tuple:
    """(the stream one negSamplingLossAndGradient call reads, the K samples it keeps): K draws, one word
    drawn twice, the outside word drawn in between (the course's getNegativeSamples redraws it)."""
    samples = [int(s) if int(s) != o else (o + 1) % W for s in rng.integers(W, size=COURSE_K)]
    samples[-1] = samples[0]
    at = int(rng.integers(1, COURSE_K))
    return samples[:at] + [o] + samples[at:], samples


def _skipgram_negative(out: Plan, d, count: int, seed: int) -> None:
    """skipgram called as the course's tests call it with ``negSamplingLossAndGradient`` as its
    word2vecLossAndGradient (the 8th argument, the submission's own function): K is the course's
    default, the samples come from one dataset stream for the whole window."""
    rng = np.random.default_rng(seed + 17)
    sizes = {s: (COURSE_K if str(s) == "K" else n) for s, n in envmod.test_sizes(d).items()}
    ctx = EvalContext(sizes)
    pts, _ = envmod.random_points(d, count, seed + 7)
    for k, p in enumerate(pts):
        U = p.values["U"]
        W, D, words, table, center, window = _window(rng, U)
        loss, g_center, g_outside, stream = 0.0, np.zeros((W, D)), np.zeros((W, D)), []
        for o in window:
            drawn, samples = _negative_stream(rng, W, o)
            stream += drawn
            values = envmod.fill(d, {"v_c": table[center], "U": U, "o": np.array([o]), "k": np.array(samples)}, ctx)
            loss += values["loss"]
            g_center[center] += values[naming.adjoint("v_c")]
            g_outside += values[naming.adjoint("U")]
        out.arrays[f"p{k}.skipneg.C"], out.arrays[f"p{k}.skipneg.U"] = table, U
        cid = f"skipgram.neg.p{k}"
        outside = [words[o] for o in window]
        args = (calls.Const(words[center]), calls.Const(2), calls.Const(outside),
                calls.Const({w: i for i, w in enumerate(words)}), calls.array(f"p{k}.skipneg.C"),
                calls.array(f"p{k}.skipneg.U"), calls.Slot("data"), calls.Function("negSamplingLossAndGradient"))
        steps = dataset("data", stream) + (calls.Call("skipgram", args, into="result"),)
        out.add(calls.Script(cid, "skipgram", steps + _saves("result")),
                Case("skipgram", cid, {"loss": loss, "gradCenterVec": g_center, "gradOutsideVecs": g_outside},
                     {"centerWordVectors": table, "outsideVectors": np.round(U, 6)},
                     setting=f"center word {words[center]!r}, outside words {outside}, dataset.sampleTokenIdx() "
                             f"returns {stream} in turn, word2vecLossAndGradient=negSamplingLossAndGradient",
                     after=("negSamplingLossAndGradient",)))


FUNCTIONS = ["naiveSoftmaxLossAndGradient", "negSamplingLossAndGradient", "skipgram"]
COURSE_K = 10     # negSamplingLossAndGradient's default K, which skipgram's call leaves as it is


def plan(d, points_wanted: int, seed: int) -> Plan:
    """The course's calls of its three graded functions, for either bundled word2vec spec."""
    if d.spec.name not in SPECS:
        raise SymgradError(f"the cs224n_word2vec profile grades word2vec.py, derived from the bundled specs "
                           f"{', '.join(SPECS)}; spec {d.spec.name!r} is not one of them")
    count = max(1, min(points_wanted, 6))
    out = Plan(list(FUNCTIONS), [], {}, [],
               uses={"skipgram": ["naiveSoftmaxLossAndGradient", "negSamplingLossAndGradient"]})
    naive, neg = (envmod.load_derivation(name) for name in SPECS)
    _naive(out, naive, count, seed)
    _negative(out, neg, count, seed)
    _skipgram(out, naive, count, seed)
    _skipgram_negative(out, neg, count, seed)
    return out
