"""Measure verify on the hand-typed corpus (tests/data/verify_corpus.py).

    PYTHONPATH=$PWD python benchmarks/verify_corpus.py [--time-limit S] [-v] [-o benchmarks/verify_corpus.log]

Prints, per language and per expected outcome, how many correct answers were
accepted and how many wrong answers were rejected with the catalogued mistake
named, and per mistake kind (all, expression language, LaTeX); with -v, every
entry that missed. Run it on two commits (PYTHONPATH
at each tree) to compare.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data"))

from verify_corpus import CORPUS  # noqa: E402

from symgrad.errors import SymgradError  # noqa: E402
from symgrad.parse import parse  # noqa: E402
from symgrad.verify.answer import verify_tree  # noqa: E402
from symgrad.verify.env import load_derivation  # noqa: E402


def run(spec, wrt, lang, text, time_limit):
    d = load_derivation(spec)
    try:
        if lang == "expr":
            tree = parse(text)
        else:
            from symgrad.verify.latex import parse_latex
            tree = parse_latex(text, d)
        v = verify_tree(d, wrt, tree, time_limit=time_limit)
    except SymgradError as exc:
        return "unusable", [], str(exc)
    return v.verdict, [m["mistake"] for m in v.diagnosis], v.message


class _Tee:
    """stdout that is also written to a file."""

    def __init__(self, path):
        self.file, self.out = open(path, "w"), sys.__stdout__

    def write(self, text):
        self.out.write(text)
        self.file.write(text)

    def flush(self):
        self.out.flush()
        self.file.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("-v", action="store_true")
    ap.add_argument("-o", "--output", help="also write the figures to this log")
    args = ap.parse_args(argv)
    if args.output:
        sys.stdout = _Tee(args.output)
    tally = collections.Counter()
    kinds = collections.Counter()
    times = []
    for spec, wrt, lang, text, expected in CORPUS:
        start = time.monotonic()
        verdict, names, message = run(spec, wrt, lang, text, args.time_limit)
        times.append(time.monotonic() - start)
        if expected == "correct":
            ok = verdict == "correct"
            tally[(lang, "correct", ok)] += 1
        else:
            ok = verdict == "incorrect" and expected in names
            tally[(lang, "wrong", ok)] += 1
            kinds[(expected, ok)] += 1
            kinds[(expected, lang, ok)] += 1
        if not ok and args.v:
            print(f"MISS {spec} --wrt {wrt} [{lang}] {text!r}: expected {expected}, got {verdict} {names}: "
                  f"{message[:160]}")
    print(f"# verify corpus: {len(CORPUS)} hand-typed answers over {len({e[0] for e in CORPUS})} specs")
    for lang in ("expr", "latex"):
        c_ok, c_all = tally[(lang, "correct", True)], tally[(lang, "correct", True)] + tally[(lang, "correct", False)]
        w_ok, w_all = tally[(lang, "wrong", True)], tally[(lang, "wrong", True)] + tally[(lang, "wrong", False)]
        print(f"{lang:6s} correct accepted {c_ok}/{c_all}   wrong with mistake named {w_ok}/{w_all}")
    c_ok = sum(v for k, v in tally.items() if k[1] == "correct" and k[2])
    c_all = sum(v for k, v in tally.items() if k[1] == "correct")
    w_ok = sum(v for k, v in tally.items() if k[1] == "wrong" and k[2])
    w_all = sum(v for k, v in tally.items() if k[1] == "wrong")
    print(f"total  correct accepted {c_ok}/{c_all}   wrong with mistake named {w_ok}/{w_all}")
    print(f"  {'mistake':24s} {'named':>7s} {'expr':>7s} {'latex':>7s}")
    for kind in sorted({k[0] for k in kinds}):
        cells = [f"{kinds[k + (True,)]}/{kinds[k + (True,)] + kinds[k + (False,)]}"
                 for k in ((kind,), (kind, "expr"), (kind, "latex"))]
        print(f"  {kind:24s} {cells[0]:>7s} {cells[1]:>7s} {cells[2]:>7s}")
    times.sort()
    print(f"median time per answer {times[len(times) // 2]:.2f} s (in process, derivation cached per spec)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
