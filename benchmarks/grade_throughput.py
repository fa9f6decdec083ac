"""`symgrad grade` throughput on pset3-sized submissions, with the sandbox on.

    python benchmarks/grade_throughput.py              # writes benchmarks/RESULTS_grade.md
    python benchmarks/grade_throughput.py --count 400 --jobs 2

Submissions: copies of symgrad's own pset3 interface file (generated/api/pset3.py,
correct) and, one in five, the same file with ReLU'(0) = 1 (wrong at the kink
points, diagnosed), so judging and diagnosis are part of the cost. Two kinds:
"plain" (the file as it is) and "starter" (first lines ``import torch`` and
``import matplotlib.pyplot as plt``, as the course's starter has them),
graded with torch and matplotlib preloaded in the sandbox's fork server
(``--allow-package torch --allow-package matplotlib``, issue 18).

Measured, in this process, in interleaved rounds:
* the whole run (`grade_folder`, start-up of the sandbox servers included) for
  a small and a large folder of each kind; the steady rate is the difference of
  the counts over the difference of the times;
* starter submissions without the preload (a small folder): what each
  submission's own ``import torch`` costs;
* a baseline without any sandbox: every plain submission imported into this
  process and the same calls run through the runner's own call interpreter,
  then judged the same way; the ratio says what containment costs.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from symgrad.verify import results, sandbox  # noqa: E402
from symgrad.verify.code import make_plan  # noqa: E402
from symgrad.verify.judge import judge_run  # noqa: E402
from symgrad.verify.env import load_derivation  # noqa: E402
from symgrad.verify import grade  # noqa: E402
from symgrad.verify.grade import grade_folder  # noqa: E402

REFERENCE = ROOT / "generated" / "api" / "pset3.py"
KINK_MISTAKE = ("    return step(x)\n\n\ndef d_loss_d_ypredicted",   # relu_derivative's body: ReLU'(0) = 1
                "    return (x >= 0).astype(float)\n\n\ndef d_loss_d_ypredicted")


BUSY = """

The machine was busy before the run (load average above its CPU count: other processes shared the cores), so
the absolute rates say little; the ratios, measured in the same rounds, are what this run shows."""
STARTER = "import torch\nimport matplotlib.pyplot as plt\n"   # the course starter's first lines
PRELOAD = ("torch", "matplotlib")


def make_folder(count: int, head: str = "") -> Path:
    folder = Path(tempfile.mkdtemp(prefix="symgrad-grade-bench-"))
    folder.chmod(0o755)
    source = REFERENCE.read_text()
    assert KINK_MISTAKE[0] in source
    for i in range(count):
        text = source.replace(*KINK_MISTAKE) if i % 5 == 4 else source
        (folder / f"student_{i:04d}.py").write_text(head + text)
    return folder


def sandboxed(count: int, jobs: int, head: str = "", packages: tuple = (), cold: bool = False) -> float:
    """Seconds for `grade_folder` on ``count`` submissions; ``cold``: without the course's preload
    (pset3's Course.preload loads torch and matplotlib in each fork server), so each submission's own
    ``import torch`` pays in full."""
    folder = make_folder(count, head)
    plan_of = grade.make_plan
    if cold:
        grade.make_plan = lambda d, profile: dataclasses.replace(plan_of(d, profile), preload=())
    try:
        start = time.perf_counter()
        with open(os.devnull, "w") as sink:
            saved, sys.stdout = sys.stdout, sink
            try:
                grade_folder(folder, "pset3", "pset3", jobs=jobs, stream=sink, packages=packages)
            finally:
                sys.stdout = saved
        report = json.loads((folder / "grades.json").read_text())["submissions"]
        assert len(report) == count and all(s["summary"]["crashed"] == 0 for s in report.values()), \
            "a benchmark submission crashed: the figures would not be grading"
        return time.perf_counter() - start
    finally:
        grade.make_plan = plan_of
        shutil.rmtree(folder, ignore_errors=True)


def unsandboxed(count: int) -> float:
    """The same calls and judging with the submission imported here: no containment at all."""
    spec = importlib.util.spec_from_file_location("symgrad_runner", ROOT / "symgrad" / "verify" / "_runner.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    runner._SAVE = np.save
    d = load_derivation("pset3")
    plan = make_plan(d, "pset3")
    folder = make_folder(count)
    try:
        start = time.perf_counter()
        for path in sorted(folder.glob("*.py")):
            s = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(s)
            s.loader.exec_module(module)
            log = _MemoryLog()
            for call in plan.calls:
                try:
                    runner.Call(module, plan.arrays, np, None).run(call["steps"], log, call["id"])
                except Exception as exc:  # noqa: BLE001
                    log.record("E", call["id"], str(exc).encode())
            result = sandbox.RunResult()
            results._collect_records(log.records, plan.calls, set(), 0, sandbox.Limits(), result)
            judge_run(plan, result)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _MemoryLog:
    def __init__(self):
        self.records = []

    def record(self, tag, name, payload=b""):
        self.records.append((tag, name, payload))

    def value(self, name, array):
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        self.record("V", name, buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--output", default=str(HERE / "RESULTS_grade.md"))
    args = ap.parse_args()
    small = max(10, args.count // 10)
    before = os.getloadavg()[0]   # other work on the machine, before this run adds its own
    rows = []
    for _ in range(args.rounds):   # interleaved rounds; medians below
        rows.append({"plain_small": sandboxed(small, args.jobs), "plain_large": sandboxed(args.count, args.jobs),
                     "starter_small": sandboxed(small, args.jobs, STARTER, PRELOAD),
                     "starter_large": sandboxed(args.count, args.jobs, STARTER, PRELOAD),
                     "base": unsandboxed(small)})
    cold_small = sandboxed(small, args.jobs, STARTER, cold=True)   # once: each submission imports torch itself
    t = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    plain_whole, starter_whole = args.count / t["plain_large"], args.count / t["starter_large"]
    plain_steady = (args.count - small) / (t["plain_large"] - t["plain_small"])
    starter_steady = (args.count - small) / (t["starter_large"] - t["starter_small"])
    base_rate = small / t["base"]
    cold_rate = small / cold_small
    layers = sandbox.layers()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    verdict = "holds" if starter_whole >= 20 else "missed"
    steady_verdict = "holds" if starter_steady >= 20 else "missed"
    busy = before > (os.cpu_count() or 1)   # the benchmark's own load is not "other work"
    text = f"""# `symgrad grade` throughput

Produced by `python benchmarks/grade_throughput.py --count {args.count} --jobs {args.jobs}` on \
{datetime.date.today().isoformat()}.

Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; Python \
{platform.python_version()}; load average before the run {before:.1f}, at the end {load} (the run's own
load included; other work may share the machine: the ratios, measured in the same process, say more than the
absolute rates).

Sandbox layers active: {", ".join(k for k, v in layers.items() if v)}; \
inactive: {", ".join(k for k, v in layers.items() if not v) or "none"}.

Submissions: copies of generated/api/pset3.py (correct), every fifth with ReLU'(0) = 1 (wrong at the kink
points, diagnosed). "plain": the file as it is; "starter": its first lines `import torch` and
`import matplotlib.pyplot as plt`. The pset3 course preloads both in each fork server (`Course.preload`),
for plain and starter alike; the starter runs also pass `--allow-package torch --allow-package matplotlib`
(no change). "Without the preload": the course's preload taken away, so each submission imports them
itself. Each submission: {len(make_plan(load_derivation("pset3"), "pset3").calls)} \
calls. Medians of {args.rounds} interleaved rounds.

| measure | plain | starter (torch, matplotlib) |
|---|---|---|
| {args.count} submissions, whole run incl. start-up, --jobs {args.jobs} | {t["plain_large"]:.2f} s = \
{plain_whole:.1f}/s | {t["starter_large"]:.2f} s = {starter_whole:.1f}/s |
| {small} submissions, whole run | {t["plain_small"]:.2f} s | {t["starter_small"]:.2f} s |
| steady rate ({args.count} - {small}) / (time difference) | {plain_steady:.1f}/s | {starter_steady:.1f}/s |
| starter / plain, whole run | | {starter_whole / plain_whole:.2f}x |
| starter without the preload ({small} submissions, once): each imports torch itself | | \
{cold_small:.2f} s = {cold_rate:.1f}/s |
| baseline: no sandbox, one thread, imported into the grader | {base_rate:.1f}/s | |
| containment cost: baseline rate / sandboxed steady rate per job | \
{base_rate / (plain_steady / args.jobs):.2f}x | |

Target (issue 18): >= 20 pset3 submissions per second whose first line imports torch, on 2 cores with every
layer on: {verdict} for the whole run ({starter_whole:.1f}/s; plain {plain_whole:.1f}/s in the same rounds),
{steady_verdict} for the steady rate ({starter_steady:.1f}/s).{BUSY if busy else ""}
"""
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
