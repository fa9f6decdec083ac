"""Wall time of one ``python -m symgrad verify NAME --wrt P --answer ...`` process.

    PYTHONPATH=$PWD python benchmarks/verify_speed.py [--repeat 3] [-o benchmarks/verify_speed.log]

For every bundled spec, every gradient that the hand-typed corpus
(tests/data/verify_corpus.py) has a correct expression-language answer for is
verified in a fresh process, ``--repeat`` times in interleaved rounds. Printed
(and written to the log): the median per spec, the median over all runs, and
the same for two floors measured the same way -- a bare interpreter and
``import sympy, numpy`` -- so the figure can be read against what no change
to symgrad can remove. Measured, not asserted: a timed test would fail on a
busy machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "data"))

from verify_corpus import CORPUS  # noqa: E402


def cases() -> list[tuple[str, str, str]]:
    """(spec, wrt, answer): the first correct expression answer per bundled gradient."""
    from symgrad.spec import bundled_names
    bundled, seen, out = set(bundled_names()), set(), []
    for spec, wrt, lang, text, expected in CORPUS:
        if spec in bundled and lang == "expr" and expected == "correct" and (spec, wrt) not in seen:
            seen.add((spec, wrt))
            out.append((spec, wrt, text))
    return out


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy())
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr}")
    return took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("-o", "--output", default=str(HERE / "verify_speed.log"))
    args = ap.parse_args(argv)
    py = sys.executable
    runs = cases()
    times: dict[tuple, list[float]] = {c: [] for c in runs}
    floors = {"python -c pass": [py, "-c", "pass"],
              "python -c 'import sympy, numpy'": [py, "-c", "import sympy, numpy"]}
    floor_times: dict[str, list[float]] = {k: [] for k in floors}
    wall([py, "-m", "symgrad", "verify", runs[0][0], "--wrt", runs[0][1], "--answer", runs[0][2]])  # warm caches
    for _ in range(args.repeat):
        for k, cmd in floors.items():
            floor_times[k].append(wall(cmd))
        for spec, wrt, text in runs:
            times[(spec, wrt, text)].append(wall([py, "-m", "symgrad", "verify", spec, "--wrt", wrt,
                                                  "--answer", text]))
    lines = [f"# verify speed, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
             f"{len(runs)} gradients x {args.repeat} runs"]
    by_spec: dict[str, list[float]] = {}
    for (spec, wrt, text), ts in times.items():
        by_spec.setdefault(spec, []).extend(ts)
        lines.append(f"  {spec:24s} --wrt {wrt:4s} median {statistics.median(ts):.2f} s  {text}")
    lines.append("per spec (median):")
    for spec, ts in by_spec.items():
        lines.append(f"  {spec:24s} {statistics.median(ts):.2f} s")
    everything = [t for ts in times.values() for t in ts]
    for k, ts in floor_times.items():
        lines.append(f"floor {k:34s} median {statistics.median(ts):.2f} s")
    sympy_floor = statistics.median(floor_times["python -c 'import sympy, numpy'"])
    median = statistics.median(everything)
    lines.append(f"verify: median {median:.2f} s over {len(everything)} processes "
                 f"(max {max(everything):.2f} s); {median / sympy_floor:.2f}x importing sympy and numpy")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
