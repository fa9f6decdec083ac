"""Students' code, function by function, against the derivation.

A submission written to a course interface (a profile) is run in the sandbox
at random points away from kinks and at points on the kinks; each function's
results are compared in this process with the derivation's values. Per
function: correct, wrong (a counterexample and, where the mistake catalogue
explains it, the diagnosis), crashed (the exception or what killed it) or
missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import names as naming
from ..errors import SymgradError
from ..ir import Var
from ..rules import RULES, apply
from ..rules.elementwise import FUNCTIONS, R, X, from_sympy
from ..evaluate import evaluate
from . import env as envmod
from .answer import _close, diagnose
from .mistakes import MESSAGES
from .sandbox import Limits, run_calls

POINTS = 12
SCALAR_PROBES = (-1.5, -0.25, 0.0, 0.5, 2.0)


@dataclass(frozen=True)
class ProfileFunction:
    """One function of a course interface.

    kind: ``gradient`` (returns dL/d<wrt>), ``forward`` (returns a dict of node
    values), ``loss`` (the loss from y_predicted and y_observed), ``activation``
    or ``activation_derivative`` (element-wise, of the function named by wrt).
    """

    name: str
    kind: str
    wrt: str
    args: tuple


def _pset3_functions(d) -> list[ProfileFunction]:
    """The pset3 interface, read from :mod:`symgrad.profiles.pset3` (the one
    mapping of a derivation onto the course's names and signatures)."""
    from ..profiles import pset3
    out = []
    for node in d.graph.nodes:
        op = node.expr.op
        if RULES[op].family == "elementwise" and op not in [f.wrt for f in out]:
            out.append(ProfileFunction(op, "activation", op, ("x",)))
    out.append(ProfileFunction("loss", "loss", "loss", ("y_predicted", pset3.OBSERVED)))
    out.append(ProfileFunction("mlp", "forward", "", tuple(a for a in d.graph.inputs if a != pset3.observed_input(d))
                               + tuple(d.graph.params)))
    derivative_of = {f: naming.course_derivative(f) for f in [p.wrt for p in out if p.kind == "activation"]}
    for op, name in derivative_of.items():
        out.append(ProfileFunction(name, "activation_derivative", op, ("x",)))
    for fn in pset3.partial_functions(d):
        out.append(ProfileFunction(fn.name, "gradient", fn.wrt, tuple(fn.args)))
    return out


PROFILES = {"pset3": _pset3_functions}


def _variable_dict_keys(d) -> list[str]:
    from ..profiles.pset3 import dict_keys
    return dict_keys(d)


def _observed(d) -> str:
    from ..profiles.pset3 import observed_input
    return observed_input(d)


def profile_functions(d, profile: str) -> list[ProfileFunction]:
    if profile not in PROFILES:
        raise SymgradError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    return PROFILES[profile](d)


@dataclass
class FunctionResult:
    name: str
    status: str                      # correct | wrong | crashed | missing
    message: str = ""
    counterexample: dict | None = None
    diagnosis: list = field(default_factory=list)
    calls_not_correct: list = field(default_factory=list)

    def as_json(self) -> dict:
        return {"function": self.name, "verdict": self.status, "message": self.message,
                "counterexample": self.counterexample, "diagnosis": self.diagnosis,
                "calls_not_correct": self.calls_not_correct}


@dataclass
class CodeReport:
    submission: str
    profile: str
    functions: list

    @property
    def exit_status(self) -> int:
        return 0 if all(f.status == "correct" for f in self.functions) else 1

    def counts(self) -> dict:
        out = {"correct": 0, "wrong": 0, "crashed": 0, "missing": 0}
        for f in self.functions:
            out[f.status] += 1
        return out

    def as_json(self) -> dict:
        return {"submission": self.submission, "profile": self.profile, "summary": self.counts(),
                "functions": [f.as_json() for f in self.functions]}


def _arg_spec(name: str, k: int, d):
    if name == "y_observed":
        name = _observed(d)
    if name == "variable_dict":
        return ["dict", {key: _arg_spec(key, k, d) for key in _variable_dict_keys(d)}]
    var = d.graph.variables()[name]
    return ["scalar" if var.ndim == 0 else "array", f"p{k}.{name}"]


def _scalar_truth(kind: str, fname: str, value: float) -> float:
    x = Var("x", (), "input")
    out = apply(fname, x)
    if kind == "activation_derivative":
        out = from_sympy(FUNCTIONS[fname].derivative, {X: x, R: out})
    from ..evaluate import EvalContext
    return float(evaluate(out, {"x": np.asarray(value)}, EvalContext({})))




def _plan(d, functions, points):
    """calls, arrays, and for each call what to compare it with."""
    calls, arrays, expect = [], {}, {}
    for k, p in enumerate(points):
        for name in list(d.graph.inputs) + list(d.graph.params) + [n.name for n in d.graph.nodes]:
            arrays[f"p{k}.{name}"] = p.values[name]
    for j, v in enumerate(SCALAR_PROBES):
        arrays[f"s{j}"] = np.asarray(v)
    for f in functions:
        if f.kind in ("activation", "activation_derivative"):
            for j, v in enumerate(SCALAR_PROBES):
                cid = f"{f.name}.s{j}"
                calls.append({"id": cid, "func": f.name, "args": [["scalar", f"s{j}"]]})
                expect[cid] = (f, None, np.asarray(_scalar_truth(f.kind, f.wrt, v)), {"x": v})
            continue
        for k, p in enumerate(points):
            cid = f"{f.name}.p{k}"
            call = {"id": cid, "func": f.name, "args": [_arg_spec(a, k, d) for a in f.args]}
            if f.kind == "forward":
                call["keys"] = _variable_dict_keys(d)
                want = {key: p.values[key] for key in call["keys"]}
            elif f.kind == "loss":
                want = p.values["loss"]
            else:
                want = p.values[f"d_{f.wrt}"]
            calls.append(call)
            expect[cid] = (f, k, want, p.leaves(d))
    return calls, arrays, expect


def check_file(spec, path, profile: str, *, time_limit: float = 10.0, memory_mb: int = 1024, points: int = POINTS,
               seed: int = 0, limits: Limits | None = None, hide: tuple = ()) -> CodeReport:
    """Run a submission (a .py file or a folder) and judge every function of the profile."""
    path = Path(path)
    if not path.exists():
        raise SymgradError(f"{path}: no such file or folder")
    d = envmod.load_derivation(spec)
    functions = profile_functions(d, profile)
    pts, ctx = envmod.random_points(d, points, seed)
    kinks = envmod.kink_points(d, ctx)
    all_points = pts + kinks
    calls, arrays, expect = _plan(d, functions, all_points)
    limits = limits or Limits(wall_seconds=time_limit, cpu_seconds=max(1, int(time_limit)),
                              memory_bytes=int(memory_mb) << 20)
    trace = tuple(f.name for f in functions)
    if path.is_file() and path.suffix in NOTEBOOK_SUFFIXES:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            extracted = Path(tmp) / "solution.py"
            extracted.write_text(notebook_functions(path.read_text(errors="replace")))
            run = run_calls(extracted, calls, arrays, limits, trace, hide + (path.parent,))
    else:
        run = run_calls(path, calls, arrays, limits, trace, hide + (path.parent,))
    results = [_judge(d, f, calls, expect, run, all_points, ctx) for f in functions]
    _blame_callees(results, run)
    return CodeReport(str(path), profile, results)


def _blame_callees(results, run) -> None:
    """Say which of the other interface functions a wrong one calls that are wrong themselves."""
    status = {r.name: r.status for r in results}
    for r in results:
        if r.status == "correct":
            continue
        bad = sorted(c for c in run.calls.get(r.name, ()) if status.get(c, "correct") != "correct")
        r.calls_not_correct = bad
        if bad:
            r.message += f"; it calls {', '.join(bad)}, which {'is' if len(bad) == 1 else 'are'} not correct"


def _fmt(v):
    a = np.asarray(v, dtype=float)
    return a.tolist() if a.ndim else float(a)


def _judge(d, f, calls, expect, run, points, ctx) -> FunctionResult:
    ids = [c["id"] for c in calls if c["func"] == f.name]
    errors = [run.errors[c] for c in ids if c in run.errors]
    missing = [e for e in errors if e.startswith("LookupError") and "is not defined" in e]
    if missing and len(missing) == len(ids):
        return FunctionResult(f.name, "missing", f"{f.name} is not defined in the submission")
    if errors:
        first = next(c for c in ids if c in run.errors)
        return FunctionResult(f.name, "crashed", f"{run.errors[first]} (in {len(errors)} of {len(ids)} calls; "
                                                 f"first at {first})")
    got_all, wrong = {}, []
    for cid in ids:
        fn, k, want, shown = expect[cid]
        if f.kind == "forward":
            bad = [key for key in want if not _close(run.values[f"{cid}.{key}"], want[key])]
            if bad:
                key = bad[0]
                wrong.append((cid, {"inputs": {n: _fmt(v) for n, v in shown.items()}, "key": key,
                                    "expected": _fmt(want[key]), "got": _fmt(run.values[f'{cid}.{key}'])}))
            continue
        got = run.values[cid]
        if got.shape != np.shape(want) and got.size == np.size(want) and np.ndim(want) <= 1:
            got = got.reshape(np.shape(want))  # a column vector for a vector is not a mistake here
        got_all[cid] = got
        if not _close(got, want):
            wrong.append((cid, {"inputs": {n: _fmt(v) for n, v in shown.items()},
                                "expected": _fmt(want), "got": _fmt(got)}))
    if not wrong:
        return FunctionResult(f.name, "correct", f"matches at all {len(ids)} test inputs")
    cid, ce = wrong[0]
    result = FunctionResult(f.name, "wrong", f"differs at {len(wrong)} of {len(ids)} test inputs", ce)
    if f.kind == "activation_derivative" or f.kind == "activation":
        kink_only = all(expect[c][3]["x"] in RULES[f.wrt].kinks for c, _ in wrong)
        if kink_only and RULES[f.wrt].kinks:
            result.diagnosis = [{"mistake": "kink_convention", "message": MESSAGES["kink_convention"]}]
            result.message += f" (only at the kink x = {ce['inputs']['x']:g})"
        return result
    if f.kind == "gradient":
        kink_ids = {c for c in ids if points[expect[c][1]].kink}
        if all(c in kink_ids for c, _ in wrong):
            result.diagnosis = [{"mistake": "kink_convention", "message": MESSAGES["kink_convention"]}]
            result.message += " (only at inputs that put a ReLU exactly on its kink)"
            return result
        values = [got_all.get(c) if c not in kink_ids else None for c in ids]
        pts = [points[expect[c][1]] for c in ids]
        try:
            result.diagnosis = diagnose(d, f.wrt, values, pts, ctx)
        except StopIteration:
            pass
    return result


def print_report(report: CodeReport) -> None:
    print(f"{report.submission} ({report.profile}): " + ", ".join(f"{v} {k}" for k, v in report.counts().items()))
    for f in report.functions:
        print(f"  {f.name:<22} {f.status:<8} {f.message}")
        if f.counterexample:
            ce = f.counterexample
            shown = ", ".join(f"{k}={v}" for k, v in ce["inputs"].items())
            print(f"      at {shown}")
            key = f" [{ce['key']}]" if "key" in ce else ""
            print(f"      expected{key} {ce['expected']}")
            print(f"      got{key}      {ce['got']}")
        for item in f.diagnosis:
            print(f"      diagnosis [{item['mistake']}]: {item['message']}")


NOTEBOOK_SUFFIXES = (".txt", ".md")


def notebook_functions(text: str) -> str:
    """The function definitions (and numpy imports) of a notebook exported as text.

    Code blocks are the fenced ``` sections. Each is parsed with :mod:`ast`
    (never run here); top-level ``def`` statements and ``import numpy``
    statements are kept, demonstration code at the top level is dropped, as
    a notebook autograder extracts solution cells. Blocks that do not parse
    are skipped.
    """
    import ast
    blocks, inside, current = [], False, []
    for line in text.splitlines():
        if line.strip().startswith("```"):
            if inside:
                blocks.append("\n".join(current))
                current = []
            inside = not inside
            continue
        if inside:
            current.append(line)
    kept = []
    for block in blocks:
        try:
            tree = ast.parse(block)
        except SyntaxError:
            continue
        for node in tree.body:
            numpy_import = isinstance(node, ast.Import) and all(a.name == "numpy" for a in node.names) or \
                isinstance(node, ast.ImportFrom) and node.module == "numpy"
            if isinstance(node, ast.FunctionDef) or numpy_import:
                kept.append(ast.get_source_segment(block, node))
    return "\n\n".join(kept) + "\n"
