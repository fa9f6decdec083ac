"""How long `symgrad verify` takes to refuse each hostile answer (tests/hostile_strings.py).

    python benchmarks/hostile_answers.py              # prints the table
    python benchmarks/hostile_answers.py --write      # and writes benchmarks/HOSTILE_ANSWERS.md
    python benchmarks/hostile_answers.py --repeat 9

Measured in this process, through ``symgrad.cli.main`` exactly as the command
line runs it (argument parsing, the bundled spec's derivation from its cache,
parsing and lowering the answer, the one-line error), output captured: the
median of ``--repeat`` runs per string. Each string is timed in a fork of this
process (same imports, derivation already built) that is killed after
``--hang`` seconds, so a regression shows as HANG instead of stopping the
benchmark. Two baselines in the same process: a valid answer (parsed, checked
at 24 random points and proven with sympy in a child process) and the
cheapest refusal there is (``W1 +``, a syntax error), whose time is the fixed
cost of a refusal. Target: every refusal under 100 ms.

Strings that are legitimate answers (a trailing CRLF, a huge but finite slope)
get a verdict, not a refusal; they are listed apart and not held to the target.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from hostile_strings import ANSWERS, GOOD, LATEX, in_fork  # noqa: E402

from symgrad.cli import main  # noqa: E402
from symgrad.verify.env import load_derivation  # noqa: E402

TARGET_MS = 100.0
SPEC, WRT = "titanic", "W1"


def once(option: str, text: str) -> tuple[float, int, str]:
    """(seconds, exit status, first line of stderr) of one ``symgrad verify``."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["verify", SPEC, "--wrt", WRT, option, text, "--time-limit", "2"])
    return time.perf_counter() - start, status, err.getvalue().split("\n", 1)[0]


def timed(option: str, text: str, repeat: int) -> tuple[float, int, str]:
    runs = [once(option, text) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), runs[0][1], runs[0][2]


def measure(repeat: int, hang: float) -> dict:
    load_derivation(SPEC)
    for _ in range(3):                                   # warm: imports, caches, the proof child
        once("--answer", GOOD)
        once("--answer", "W1 +")
    base_valid = timed("--answer", GOOD, repeat)
    base_refusal = timed("--answer", "W1 +", repeat)
    rows = []
    for option, table in (("--answer", ANSWERS), ("--latex", LATEX)):
        for label, text, allowed in table:
            got = in_fork(timed, option, text, repeat, hang=hang)
            if got is None:
                rows.append((option, label, allowed, None, "HANG", ""))
            elif got[0] != "ok":
                rows.append((option, label, allowed, float("nan"), "raised", got[1][:80]))
            else:
                seconds, status, line = got[1]
                rows.append((option, label, allowed, seconds, status, line))
    return {"valid": base_valid, "refusal": base_refusal, "rows": rows}


def _ms(seconds) -> str:
    return "HANG" if seconds is None else f"{1000 * seconds:.1f}"


def render(result: dict, repeat: int) -> str:
    valid, refusal = result["valid"][0], result["refusal"][0]
    refused = [r for r in result["rows"] if r[4] == 2 and r[5]]
    verdicts = [r for r in result["rows"] if not (r[4] == 2 and r[5])]
    worst = max(refused, key=lambda r: r[3])
    bad = [r for r in result["rows"] if r[4] in (3, "HANG") or isinstance(r[4], str)]
    over = [r for r in refused if r[3] * 1000 > TARGET_MS]
    lines = [
        "# Hostile answers: time to refuse",
        "",
        f"`python benchmarks/hostile_answers.py --write`, {datetime.date.today()}, Python "
        f"{platform.python_version()} on {platform.machine()}; median of {repeat} runs of "
        f"`symgrad.cli.main(['verify', '{SPEC}', '--wrt', '{WRT}', OPTION, TEXT])` in one process "
        "(each string in a fork of it), output captured.",
        "",
        f"* strings: {len(result['rows'])} ({sum(r[0] == '--answer' for r in result['rows'])} `--answer`, "
        f"{sum(r[0] == '--latex' for r in result['rows'])} `--latex`); refused (exit 2, one line): {len(refused)}; "
        f"a verdict (legitimate answers): {len(verdicts)}; exit 3 or hang: {len(bad)}",
        f"* slowest refusal: **{_ms(worst[3])} ms** (`{worst[1]}`, {worst[0]}); target {TARGET_MS:g} ms; "
        f"over the target: {len(over)}",
        f"* baselines in the same process: a valid answer (`{GOOD}`, proven) {_ms(valid)} ms; "
        f"the cheapest refusal (`W1 +`) {_ms(refusal)} ms",
        "",
        "| option | string | ms | x valid answer | message |",
        "|---|---|---:|---:|---|",
    ]
    for option, label, _allowed, seconds, _status, line in sorted(refused, key=lambda r: -r[3]):
        message = line.replace("symgrad: error: ", "").replace("|", "\\|")
        message = message if len(message) <= 90 else message[:87] + "..."
        lines.append(f"| {option} | {label} | {_ms(seconds)} | {seconds / valid:.2f} | {message} |")
    lines += ["", "Legitimate answers among them (a verdict, not a refusal; not held to the target):", "",
              "| option | string | ms | exit |", "|---|---|---:|---:|"]
    for option, label, _allowed, seconds, status, _line in verdicts:
        lines.append(f"| {option} | {label} | {_ms(seconds)} | {status} |")
    return "\n".join(lines) + "\n"


def main_() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hang", type=float, default=30.0, help="seconds before a string counts as a hang")
    parser.add_argument("--write", action="store_true", help="write benchmarks/HOSTILE_ANSWERS.md")
    args = parser.parse_args()
    result = measure(args.repeat, args.hang)
    text = render(result, args.repeat)
    print(text)
    if args.write:
        (HERE / "HOSTILE_ANSWERS.md").write_text(text + BEFORE)
        print(f"wrote {HERE / 'HOSTILE_ANSWERS.md'}")
    refused = [r for r in result["rows"] if r[4] == 2 and r[5]]
    bad = [r for r in result["rows"] if r[4] in (3, "HANG") or isinstance(r[4], str)]
    return 1 if bad or any(r[3] * 1000 > TARGET_MS for r in refused) else 0


#: Measured once on the code before the bounds (commit 8855294), by hand, for the record.
BEFORE = "\n" + (HERE / "hostile_answers_before.md").read_text()


if __name__ == "__main__":
    sys.exit(main_())
