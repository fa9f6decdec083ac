"""Gradescope: results.json from symgrad's code reports, and the autograder zip.

Gradescope runs ``/autograder/source/setup.sh`` once when it builds the
image and ``/autograder/run_autograder`` once per submission; the submission
is in ``/autograder/submission`` and the grade must be written to
``/autograder/results/results.json``: an object with ``tests`` (each with
``name``, ``score``, ``max_score``, ``output``, ``visibility``, ``status``),
an overall ``score`` and the ``execution_time`` in seconds.

Points per function come from a small TOML file::

    default = 1                 # every function of the profile not listed
    visibility = "visible"      # visible | hidden | after_due_date | after_published

    [points]
    d_loss_d_W0 = 3
    relu = 0.5

The paths are those of Gradescope unless ``SYMGRAD_AUTOGRADER_ROOT`` names
another folder laid out the same way (the tests use a temporary one).
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SymgradError

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
ROOT_ENV = "SYMGRAD_AUTOGRADER_ROOT"
CONFIG = "symgrad_autograder.json"   # in source/: spec, profile, limits, points
SHOWN_ENTRIES = 200                  # a counterexample's arrays longer than this are elided in the output


@dataclass
class Points:
    """Points per function, and the visibility of the tests."""

    default: float = 1.0
    per_function: dict = field(default_factory=dict)
    visibility: str = "visible"

    def of(self, function: str) -> float:
        return float(self.per_function.get(function, self.default))

    def as_json(self) -> dict:
        return {"default": self.default, "points": dict(self.per_function), "visibility": self.visibility}

    @classmethod
    def from_json(cls, data: dict) -> Points:
        return cls(float(data["default"]), dict(data["points"]), data["visibility"])


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise SymgradError(f"{where}: points must be a number >= 0, not {value!r}")
    return float(value)


def load_points(path=None, functions=None) -> Points:
    """Read a points TOML file (None: one point per function, visible).

    Raises:
        SymgradError: unreadable file, unknown key or function, a negative or non-numeric value.
    """
    if path is None:
        return Points()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SymgradError(f"{path}: not a readable points file ({exc})") from None
    unknown = set(data) - {"default", "visibility", "points"}
    if unknown:
        raise SymgradError(f"{path}: unknown key(s) {', '.join(sorted(map(repr, unknown)))}; "
                           "expected default, visibility and a [points] table")
    out = Points(default=_number(data.get("default", 1), f"{path}: default"))
    visibility = data.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise SymgradError(f"{path}: visibility {visibility!r} is not one of {', '.join(VISIBILITIES)}")
    out.visibility = visibility
    table = data.get("points", {})
    if not isinstance(table, dict):
        raise SymgradError(f"{path}: points must be a table [points] of function = number")
    for name, value in table.items():
        if functions is not None and name not in functions:
            raise SymgradError(f"{path}: [points] names {name!r}, which the profile does not grade; "
                               f"its functions are {', '.join(functions)}")
        out.per_function[name] = _number(value, f"{path}: points.{name}")
    return out


def _elided(value):
    if isinstance(value, list):
        flat = json.dumps(value)
        if flat.count(",") + 1 > SHOWN_ENTRIES:
            return f"{flat[:300]} ... ({len(flat)} characters)"
    return value


def function_output(result: dict) -> str:
    """One function's result as the text a student reads on Gradescope."""
    lines = [f"{result['verdict']}: {result.get('message') or ''}".rstrip(": ")]
    ce = result.get("counterexample")
    if ce:
        lines.append("counterexample:")
        for key in ("inputs", "arguments"):
            for k, v in (ce.get(key) or {}).items():
                lines.append(f"  {k} = {json.dumps(_elided(v))}")
        for k, v in ce.items():
            if k not in ("inputs", "arguments"):
                lines.append(f"  {k}: {json.dumps(_elided(v))}")
    for item in result.get("diagnosis") or []:
        lines.append(f"diagnosis [{item.get('mistake')}]: {item.get('message')}")
    for name in result.get("calls_not_correct") or []:
        lines.append(f"(calls {name}, which is not correct)")
    return "\n".join(lines)


def results_json(report: dict, points: Points, execution_time: float | None = None) -> dict:
    """Gradescope's results.json for one submission's code report (``CodeReport.as_json()``)
    or, for a submission that could not be graded, ``{"error": message}`` and the function names."""
    tests = []
    for i, f in enumerate(report.get("functions", []), 1):
        worth = points.of(f["function"])
        passed = f["verdict"] == "correct"
        tests.append({"name": f["function"], "number": str(i), "score": worth if passed else 0.0,
                      "max_score": worth, "status": "passed" if passed else "failed",
                      "output": function_output(f), "output_format": "text", "visibility": points.visibility})
    # output_format "text": a submission's names and messages are shown as typed, never as HTML or Markdown
    out = {"score": sum(t["score"] for t in tests), "tests": tests, "visibility": points.visibility,
           "stdout_visibility": "hidden", "output_format": "text"}
    if "error" in report:
        out["output"] = f"the submission could not be graded: {report['error']}"
    if execution_time is not None:
        out["execution_time"] = round(float(execution_time), 3)
    return out


def otter_json(report: dict, points: Points) -> dict:
    """One submission in the shape of Otter-Grader's per-test results (name, score, possible, passed)."""
    tests = [{"name": f["function"], "score": points.of(f["function"]) if f["verdict"] == "correct" else 0.0,
              "possible": points.of(f["function"]), "passed": f["verdict"] == "correct",
              "message": function_output(f)} for f in report.get("functions", [])]
    out = {"total": sum(t["score"] for t in tests), "possible": sum(t["possible"] for t in tests), "tests": tests}
    if "error" in report:
        out["error"] = report["error"]
    return out


def convert_grades(grades: dict, fmt: str, points: Points) -> dict:
    """``grades.json`` (of ``symgrad grade``) as one Gradescope or Otter result per submission."""
    one = (lambda r: results_json(r, points)) if fmt == "gradescope" else (lambda r: otter_json(r, points))
    return {"spec": grades.get("spec"), "profile": grades.get("profile"), "format": fmt,
            "submissions": {name: one(sub) for name, sub in sorted(grades.get("submissions", {}).items())}}


def autograder_root() -> Path:
    return Path(os.environ.get(ROOT_ENV, "/autograder"))


def run_autograder(root=None) -> dict:
    """Grade ``ROOT/submission`` as ``ROOT/source/symgrad_autograder.json`` says; write
    ``ROOT/results/results.json`` (also when grading fails: score 0 and the reason)."""
    from ..io import write_atomic
    start = time.monotonic()
    root = Path(root) if root is not None else autograder_root()
    config = json.loads((root / "source" / CONFIG).read_text())
    points = Points.from_json(config["points"])
    spec = config["spec"]
    if config.get("spec_file"):
        spec = str(root / "source" / config["spec_file"])
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    try:
        from ..verify.code import Checker
        with Checker(spec, config["profile"], time_limit=config["time_limit"], memory_mb=config["memory_mb"],
                     hide=(root / "source", results_dir)) as checker:
            report = checker.check(root / "submission").as_json()
    except Exception as exc:  # noqa: BLE001 - Gradescope must get a results.json whatever happened
        report = {"error": f"{type(exc).__name__}: {exc}",
                  "functions": [{"function": f, "verdict": "crashed", "message": "not graded",
                                 "counterexample": None, "diagnosis": []} for f in config["functions"]]}
    results = results_json(report, points, time.monotonic() - start)
    write_atomic(results_dir / "results.json", json.dumps(results, indent=1) + "\n", root=results_dir)
    return results


if __name__ == "__main__":   # what run_autograder calls
    run_autograder()
