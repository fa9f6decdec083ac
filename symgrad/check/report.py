"""The proof part of ``symgrad check`` / ``symgrad prove``: progress on stderr while it
runs, then one table, what was proven at which sizes, and an exit status."""

from __future__ import annotations

import sys
import time

from ..escape import one_line
from ..ir import show_shape

UNDECIDED = 4     # out of time before every entry was decided: not a failure (1), not bad input (2), not a bug (3)
INTERRUPTED = 130
PROGRESS_EVERY = 1.0   # seconds between progress lines


class Progress:
    """One stderr line at most every PROGRESS_EVERY seconds: steps done, entries done, the step now."""

    def __init__(self, total_steps: int, total_entries: int, stream=None):
        self.total_steps, self.total_entries = total_steps, total_entries
        self.stream = stream or sys.stderr
        self.start = self.last = time.perf_counter()
        self.seen: dict = {}

    def __call__(self, step):
        self.seen[(step.kind, step.target)] = step
        now = time.perf_counter()
        if now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        done = sum(1 for s in self.seen.values() if s.done)
        entries = sum(s.proven + len(s.failures) for s in self.seen.values())
        print(f"proof: {now - self.start:.0f} s, {done}/{self.total_steps} steps, "
              f"{entries}/{self.total_entries} entries (now: {step.describe()})", file=self.stream, flush=True)


def _short(e, limit=160) -> str:
    return one_line(str(e), limit)


def run_proof(d, spec_arg: str, time_limit: float, format_table) -> int:
    """Prove ``d`` under ``time_limit`` seconds and print the result; the exit status."""
    import numpy as np

    from ..evaluate import EvalContext
    from ..points import proof_sizes
    from .proof import prove
    sizes = proof_sizes(d.graph)
    shown = ", ".join(f"{k}={v}" for k, v in sizes.items()) or "as declared"
    variables = d.graph.variables()
    ctx = EvalContext(sizes)
    entries = sum(int(np.prod(ctx.shape(variables[t].shape), dtype=int)) for t in d.order)
    print(f"proving (sizes {shown}, time limit {time_limit:g} s): {len(d.order)} adjoint steps and "
          f"{len(d.fusions)} fusions, {entries} entries; progress on stderr", flush=True)
    proof = prove(d, sizes, time_limit=time_limit, progress=Progress(len(d.order) + len(d.fusions), entries))
    rows = []
    for p in proof.params:
        verdict = "proven" if p.ok else ("FAIL" if p.failures else "undecided")
        rows.append([p.name, show_shape(d.graph.variables()[p.name].shape), f"{p.proven}/{p.entries}", verdict])
    print(format_table(["parameter", "shape", "entries", "proof"], rows))
    from ..rules import RULES
    said = {k: f"{k}' {'proven' if v else ('NOT proven' if v is False else 'undecided')}"
            for k, v in proof.lemmas.items()}
    lemmas = ", ".join(text for k, text in said.items() if "lemma" not in RULES[k].extra)
    if lemmas:
        print(f"element-wise derivatives (scalar identities, every size): {lemmas}")
    extrema = ", ".join(text for k, text in said.items() if "lemma" in RULES[k].extra)
    if extrema:
        print(f"max/min derivatives (the indicator of the first extremum, where it is strict; "
              f"the first one at a tie, by convention): {extrema}")
    for step in proof.steps:
        for idx, truth, ours in step.failures[:2]:
            print(f"FAILED step: {step.describe()}, entry {idx}: chain rule gives {_short(truth)}, "
                  f"the formula gives {_short(ours)}")
    decided = [s for s in proof.steps if s.done]
    print(f"proof: {len(decided)} of {len(d.order) + len(d.fusions)} steps decided in {proof.seconds:.2f} s")
    if proof.failed:
        print("FAILED")
        return 1
    if proof.stopped:
        left = len(d.order) + len(d.fusions) - len(decided)
        undecided = sum(p.entries - p.proven for p in proof.params)
        what = f"undecided after {proof.seconds:.0f} s" if proof.stopped == "time" else "interrupted"
        print(f"{what}: {left} steps and {undecided} gradient entries left undecided (none failed so far); "
              f"to go further: symgrad prove {one_line(spec_arg)} --time-limit {max(time_limit * 4, 600):g}")
        return UNDECIDED if proof.stopped == "time" else INTERRUPTED
    at = f"at sizes {shown}" if sizes else "at the declared sizes"
    fused = f"; each of the {len(d.fusions)} stable rewrites equals what it replaced" if d.fusions else ""
    print(f"proven: every gradient entry {at}. Each step is one operation's vector-Jacobian product "
          f"checked against the scalar chain rule {at}{fused}; the induction over the graph holds at "
          "every size.")
    print("all gradients check")
    return 0
