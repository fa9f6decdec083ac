"""Proof time by depth and for course-sized nets (issue 19); writes benchmarks/PROOF_SCALING.md.

    PYTHONPATH=$PWD python benchmarks/proof_scaling.py            # about a minute
    PYTHONPATH=$PWD python benchmarks/proof_scaling.py --baseline 20

Every spec is in benchmarks/specs/. For each: derive once, then
symgrad.check.proof.prove (local adjoint identities) timed --repeats times in
this process, sympy's cache cleared before each (median reported; the first run
also proves the element-wise derivative lemmas, once per process, so it is
reported too). With --baseline SECONDS the
previous method (expand the whole loss in inputs and parameters, sympy.diff per
entry) is timed on the ReLU depth series under that limit, for the comparison.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs"
DEPTHS = (2, 3, 4, 5, 6, 8, 12)
COURSE = ("layernorm_residual", "batchnorm_softmax_ce", "attention", "mlp4_biases", "twolayer_softmax5")


def expanded_proof(d, limit: float):
    """The method this replaced: the loss expanded in inputs and parameters, sympy.diff for
    every parameter entry, compared with the gradient formula on the same symbols. Returns
    seconds, or None when it did not finish within ``limit``."""
    import sympy as sp

    from symgrad.check.budget import Budget, OutOfTime
    from symgrad.evaluate import EvalContext
    from symgrad.ir import as_sympy
    from symgrad.points import is_zero, proof_sizes, symbolic_leaves
    from symgrad.spec import LOSS
    start = time.perf_counter()
    budget = Budget(limit)
    try:
        with budget:
            ctx = EvalContext(proof_sizes(d.graph), symbolic=True)
            values = d.values(symbolic_leaves(d, ctx), ctx)
            loss = as_sympy(np.asarray(values[LOSS]).item())
            for name in d.graph.params:
                grad, syms = np.asarray(values[f"d_{name}"]), np.asarray(values[name])
                for idx in np.ndindex(*syms.shape):
                    budget.tick()
                    if not is_zero(sp.diff(loss, syms[idx]) - as_sympy(grad[idx])):
                        raise AssertionError(f"{name}{idx}")
    except OutOfTime:
        return None
    return time.perf_counter() - start


def measure(name: str, repeats: int) -> dict:
    from symgrad import derive
    from symgrad.check.proof import prove
    d = derive(str(SPECS / f"{name}.toml"))
    times, proof = [], None
    from sympy.core.cache import clear_cache
    for _ in range(repeats):
        clear_cache()       # every run pays for its own sympy work: no run reuses another's results
        proof = prove(d, time_limit=60)
        times.append(proof.seconds)
    entries = sum(p.entries for p in proof.params)
    return {"name": name, "ok": proof.ok, "stopped": proof.stopped, "first": times[0],
            "median": statistics.median(times[1:] or times), "steps": len(proof.steps),
            "nodes": len(d.graph.nodes), "entries": entries, "sizes": proof.sizes, "d": d,
            "params": ", ".join(f"{n}{tuple(int(x) for x in v.shape)}" for n, v in d.graph.params.items())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline", type=float, default=0.0, metavar="SECONDS",
                    help="also time the expanded-loss proof on the depth series, under this limit each")
    ap.add_argument("--out", default=str(HERE / "PROOF_SCALING.md"))
    args = ap.parse_args(argv)
    rows = {}
    for depth in DEPTHS:
        r = measure(f"relu_mlp_depth{depth}", args.repeats)
        rows[depth] = r
        print(f"depth {depth}: {r['median']:.3f} s (first {r['first']:.3f} s), proven={r['ok']}", file=sys.stderr)
    course = [measure(n, args.repeats) for n in COURSE]
    for r in course:
        print(f"{r['name']}: {r['median']:.3f} s (first {r['first']:.3f} s), proven={r['ok']}", file=sys.stderr)
    ratio = rows[12]["median"] / rows[6]["median"]
    md = [f"# Proof scaling ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
          f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"`benchmarks/proof_scaling.py --repeats {args.repeats}"
          f"{f' --baseline {args.baseline:g}' if args.baseline else ''}`. Seconds of "
          "`symgrad.check.proof.prove` (local adjoint identities), median of the repeats after the first, "
          "sympy's cache cleared before each; "
          "'first' also proves the element-wise derivative lemmas (once per process). Specs: `benchmarks/specs/`.", "",
          "## ReLU MLPs of width 3 (X @ W1 -> relu -> ... -> @ Wd, MSE)", "",
          "| depth | graph nodes | proof steps | gradient entries | median s | first s | proven |",
          "|---|---|---|---|---|---|---|"]
    for depth, r in rows.items():
        md.append(f"| {depth} | {r['nodes']} | {r['steps']} | {r['entries']} | {r['median']:.3f} | "
                  f"{r['first']:.3f} | {'yes' if r['ok'] else 'NO'} |")
    md += ["", f"Time at depth 12 / depth 6: **{ratio:.2f}** (bound 2.5; the steps double, 12/6 = 2).", ""]
    if args.baseline:
        md += [f"### The method it replaced (whole loss expanded, sympy.diff per entry; limit {args.baseline:g} s)",
               "", "| depth | seconds |", "|---|---|"]
        for depth in DEPTHS:
            t = expanded_proof(rows[depth]["d"], args.baseline)
            md.append(f"| {depth} | {'over ' + format(args.baseline, 'g') if t is None else format(t, '.2f')} |")
            print(f"baseline depth {depth}: {t}", file=sys.stderr)
            if t is None:
                break
        md.append("")
    md += ["## Course-sized nets", "",
           "| spec | parameters | proof sizes | steps | entries | median s | first s | proven |",
           "|---|---|---|---|---|---|---|---|"]
    for r in course:
        sizes = ", ".join(f"{k}={v}" for k, v in r["sizes"].items()) or "fixed"
        md.append(f"| {r['name']} | {r['params']} | {sizes} | {r['steps']} | {r['entries']} | "
                  f"{r['median']:.3f} | {r['first']:.3f} | {'yes' if r['ok'] else 'NO'} |")
    every = all(r["ok"] for r in list(rows.values()) + course)
    slow = max(r["first"] for r in list(rows.values()) + course)
    md += ["", f"All proven: {'yes' if every else 'NO'}; slowest single proof {slow:.2f} s (bound 10 s).", ""]
    Path(args.out).write_text("\n".join(md))
    print("\n".join(md))
    return 0 if every and ratio <= 2.5 and slow < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
