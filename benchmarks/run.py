"""Run every benchmark and write benchmarks/RESULTS.md.

    python benchmarks/run.py                 # everything (about 20 minutes on 2 cores)
    python benchmarks/run.py --budget 10     # longer timing per shape: steadier medians on a busy machine
    python benchmarks/run.py --quick         # small shapes, short budgets, one process (a smoke run)

Steps, each in fresh processes with threads pinned (see worker.py):
0. numpy's BLAS kernel per dtype: OpenBLAS's own pick, or another kernel family
   the CPU runs when a probe finds it faster (blas_choice);
1. training steps: for each net and dtype, three worker processes (--processes) each time the
   generated step (make_step), the hand-written numpy step (hand.py), PyTorch
   eager and JAX jit (when installed) on every shape, in interleaved rounds,
   and measures np.matmul's throughput and the peak memory of one step;
2. derivation scaling: derive + LaTeX + numpy code for deep and wide MLPs
   (scaling.py);
3. proofs: symgrad.check.proof.prove of the bundled specs (scaling.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nets  # noqa: E402

PINNED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
          "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1",
          "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


#: OpenBLAS kernel families to try (OPENBLAS_CORETYPE); one this CPU cannot run fails its probe
BLAS_CANDIDATES = ("Haswell", "Zen", "SkylakeX", "Cooperlake")
#: a kernel other than OpenBLAS's own pick must be this much faster to be used
BLAS_MARGIN = 1.02


def run_json(args: list[str], env_extra: dict | None = None, check: bool = True) -> list[dict]:
    env = {**os.environ, **PINNED, **(env_extra or {})}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 and not check:
        return []
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"benchmark process failed: {' '.join(args)}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def blas_choice(dtype: str) -> dict:
    """numpy's BLAS kernel for dtype: OpenBLAS's own pick unless another family this CPU runs
    multiplies 1024 x 1024 matrices faster by BLAS_MARGIN (OpenBLAS gives AMD Zen 4 its
    AVX-512 SkylakeX kernels; its AVX2 Zen kernels run float32 products faster there)."""
    probe = [str(HERE / "worker.py"), "--probe", "--net", nets.NETS[0], "--dtype", dtype]
    default = run_json(probe)[0]
    best = {"env": {}, "core": default["blas_core"] or "default", "gflops": default["matmul_gflops"],
            "default_core": default["blas_core"] or "default", "default_gflops": default["matmul_gflops"]}
    for family in BLAS_CANDIDATES:
        if family == default["blas_core"]:
            continue
        found = run_json(probe, {"OPENBLAS_CORETYPE": family}, check=False)
        if found and found[0]["matmul_gflops"] > BLAS_MARGIN * max(best["gflops"], default["matmul_gflops"]):
            best.update(env={"OPENBLAS_CORETYPE": family}, core=found[0]["blas_core"] or family,
                        gflops=found[0]["matmul_gflops"])
    return best


def median(values):
    s = sorted(values)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    parts = [f"{cpu}, {os.cpu_count()} logical CPUs", f"Python {platform.python_version()}",
             f"numpy {numpy.__version__}"]
    for name in ("torch", "jax"):
        try:
            parts.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            parts.append(f"{name} not installed")
    try:
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        parts.append(f"load average at the end of the run {load} (other jobs shared the machine)")
    except OSError:
        pass
    return "; ".join(parts)


def _blas_text(dtype: str, b: dict) -> str:
    chosen = f"{dtype} {b['core']} ({b['gflops']:.1f} GFLOP/s"
    if b["env"]:
        return chosen + f"; OpenBLAS's own pick {b['default_core']}: {b['default_gflops']:.1f})"
    return chosen + ", OpenBLAS's own pick)"


def mib(b):
    return f"{b / 2**20:.2f}" if b >= 2**16 else f"{b / 1024:.1f} KiB"


PAIRS = (("generated", "hand"), ("generated", "torch"), ("matmul", "torch"), ("generated", "jax"),
         ("matmul", "generated"), ("matmul", "hand"))


def process_ratios(runs: list, a: str, b: str) -> list[float] | None:
    """Each process's median over rounds of the paired ratio a / b (None without both)."""
    found = [median([x / y for x, y in zip(r["seconds"][a], r["seconds"][b])])
             for r in runs if a in r["seconds"] and b in r["seconds"]]
    return found or None


def grouped(rows) -> dict[tuple, list]:
    """(net, dtype, n, w) -> the rows of every worker process."""
    out: dict[tuple, list] = {}
    for r in rows:
        out.setdefault((r["net"], r["dtype"], r["n"], r["w"]), []).append(r)
    return out


def ratio_summary(rows) -> list[dict]:
    """The unrounded ratios behind the table (RESULTS.json): per row, each process's ratio."""
    out = []
    for (net, dtype, n, w), runs in grouped(rows).items():
        entry = {"net": net, "dtype": dtype, "batch": n, "width": w}
        for a, b in PAIRS:
            found = process_ratios(runs, a, b)
            if found is not None:
                entry[f"{a}/{b}"] = {"median": median(found), "per_process": found}
        peak = [r["peak_bytes"]["generated"] / r["peak_bytes"]["hand"] for r in runs]
        entry["peak generated/hand"] = {"median": median(peak), "per_process": peak}
        out.append(entry)
    return out


#: issue 7's targets for the training step: (text, ratio key, which rows, bound, "max" or "min")
TARGETS = (
    ("generated / hand <= 1.05 from 256 x 256 up", "generated/hand", lambda n, w: w >= 256, 1.05, "max"),
    ("generated / hand <= 1.2 at 32 x 64", "generated/hand", lambda n, w: (n, w) == (32, 64), 1.2, "max"),
    (">= 90% of matmul peak at 1024 x 1024", "matmul/generated", lambda n, w: (n, w) == (1024, 1024), 0.9, "min"),
    ("generated / torch <= 0.9 at width >= 256", "generated/torch", lambda n, w: w >= 256, 0.9, "max"),
    ("generated / torch <= 0.5 at 32 x 64", "generated/torch", lambda n, w: (n, w) == (32, 64), 0.5, "max"),
    ("generated / torch <= 0.1 at 1 x 3", "generated/torch", lambda n, w: (n, w) == (1, 3), 0.1, "max"),
    ("peak memory generated <= 1.2x hand", "peak generated/hand", lambda n, w: True, 1.2, "max"),
)


def targets_section(summary: list[dict]) -> list[str]:
    """Each step target against the unrounded medians of RESULTS.json: how many rows hold, the worst."""
    out = ["## Against the training-step targets of issue 7", "",
           "Computed by run.py from the unrounded ratios (RESULTS.json), median over processes; "
           "the worst single process is shown beside it.", "",
           "| target | rows holding | worst row | its median | its worst process |", "|---|---|---|---|---|"]
    for text, key, which, bound, kind in TARGETS:
        found = [(e, e[key]) for e in summary if key in e and which(e["batch"], e["width"])]
        if not found:
            continue
        ok = [v["median"] <= bound if kind == "max" else v["median"] >= bound for _, v in found]
        pick = max if kind == "max" else min
        entry, value = pick(found, key=lambda f: f[1]["median"])
        worst = pick(value["per_process"])
        out.append(f"| {text} | {sum(ok)} of {len(ok)} | {entry['net']} {entry['dtype']} "
                   f"{entry['batch']} x {entry['width']} | {value['median']:.3f} | {worst:.3f} |")
    return out


def step_tables(rows) -> list[str]:
    """One table row per (net, dtype, shape); ``rows`` holds one entry per worker process.

    A ratio is the median, over processes, of each process's median paired ratio;
    where processes disagree by 0.02 or more the range across them follows in brackets.
    """
    out = ["| net | dtype | batch x width | generated (ms) | gen / hand | gen / torch | products / torch "
           "| gen / jax | % of matmul peak: gen, hand | peak memory gen / hand (MiB) | ratio |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (net, dtype, n, w), runs in grouped(rows).items():
        def ratio(a, b, runs=runs):
            found = process_ratios(runs, a, b)
            if found is None:
                return "-"
            text = f"{median(found):.2f}"
            if max(found) - min(found) >= 0.02:
                text += f" ({min(found):.2f}-{max(found):.2f})"
            return text

        def share(a, b, runs=runs):
            return f"{100 * median(process_ratios(runs, a, b)):.0f}%"

        gen = median([median(r["seconds"]["generated"]) for r in runs])
        mem = runs[0]["peak_bytes"]
        out.append(
            f"| {net} | {dtype} | {n} x {w} | {gen * 1e3:.4g} "
            f"| {ratio('generated', 'hand')} | {ratio('generated', 'torch')} "
            f"| {ratio('matmul', 'torch')} | {ratio('generated', 'jax')} "
            f"| {share('matmul', 'generated')}, {share('matmul', 'hand')} "
            f"| {mib(mem['generated'])} / {mib(mem['hand'])} | {mem['generated'] / mem['hand']:.2f} |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes and short budgets")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per shape and process")
    parser.add_argument("--processes", type=int, default=None,
                        help="worker processes per net and dtype (ratios: median over processes)")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    budget = args.budget or (0.5 if args.quick else 4.0)
    shapes = "1x3,32x64,256x256" if args.quick else "all"
    processes = args.processes or (1 if args.quick else 3)
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + (
        f" --budget {args.budget}" if args.budget else "") + (
        f" --processes {args.processes}" if args.processes else "")

    rows, peaks, blas = [], {}, {}
    for dtype in nets.DTYPES:
        print(f"choosing numpy's BLAS kernel for {dtype} ...", file=sys.stderr, flush=True)
        blas[dtype] = blas_choice(dtype)
        found = []
        for k in range(processes):   # whole passes over the nets, so a slow spell hits every net alike
            for net in nets.NETS:
                print(f"timing {net} {dtype} (process {k + 1} of {processes}) ...", file=sys.stderr, flush=True)
                out = run_json([str(HERE / "worker.py"), "--net", net, "--dtype", dtype,
                                "--budget", str(budget), "--shapes", shapes], blas[dtype]["env"])
                found.append(out[0]["matmul_gflops"])
                rows.extend(out[1:])
        peaks[dtype] = max(found)
    print("derivation scaling and proofs ...", file=sys.stderr, flush=True)
    scaling = run_json([str(HERE / "scaling.py")] + (["--quick"] if args.quick else []))

    lines = [
        "# symgrad benchmarks",
        "",
        f"Produced by `{command}` on {datetime.date.today().isoformat()}.",
        "",
        f"Machine: {machine()}.",
        "",
        "Every process is pinned to one thread (OPENBLAS/OMP/MKL_NUM_THREADS=1, XLA single-threaded, "
        "torch.set_num_threads(1)) and bound to one CPU. Frameworks run in interleaved rounds inside "
        "one process (per round, in an order shuffled afresh, each framework makes one untimed call "
        "and then one timed batch, so every batch times the steady state of a training loop); "
        "a process's ratio is the median over rounds of the paired per-round ratio, and a ratio "
        f"below is the median over {processes} such processes per net and dtype (a process's "
        "memory layout moves a framework's time by a few per cent, which rounds within one "
        "process do not show), with the range across them in brackets where it spans 0.02 or more. "
        "% of matmul peak: the step's five matrix products "
        "(10 n w^2 flops) run alone with np.matmul(out=), timed in the same rounds, over the step's "
        "time (median of paired ratios), so it is the share of the step that is matrix products at "
        "this machine's measured matmul speed. "
        "products / torch: those five products alone over torch's whole step, the floor of "
        "gen / torch for any numpy step that computes them with numpy's BLAS. "
        "Peak memory: tracemalloc peak of a first step from nothing, the generated step's workspace "
        "included (inputs and parameters excluded).",
        "",
        "Measured matmul throughput, one thread, 1024 x 1024 (best of the run; other jobs loaded "
        "the machine, so the median is lower): "
        + ", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in peaks.items()) + ".",
        "",
        "numpy's BLAS kernel, per dtype: OpenBLAS's own pick for this CPU unless another kernel "
        f"family it can run multiplies 1024 x 1024 matrices at least {100 * (BLAS_MARGIN - 1):.0f}% "
        "faster in a probe (then set with OPENBLAS_CORETYPE for every numpy framework alike: "
        "generated, hand, matmul; torch uses its own MKL): "
        + "; ".join(_blas_text(d, b) for d, b in blas.items()) + ".",
        "",
        "Nets (benchmarks/nets.py): H = act(X @ W1 + b1), output = H @ W2 + b2, all widths w; "
        "relu_mse: ReLU, mean squared error; sigmoid_bce: sigmoid hidden and output, binary "
        "cross-entropy; softmax_ce: ReLU, softmax cross-entropy of one-hot rows. "
        "`generated` is the module symgrad renders (its `make_step()`), `hand` is benchmarks/hand.py.",
        "",
        "## Training step: forward + backward",
        "",
    ]
    lines += step_tables(rows)
    lines += [""] + targets_section(ratio_summary(rows))
    lines += ["", "## Derivation, LaTeX and code generation; proofs", ""]
    lines += [r["markdown"] for r in scaling if "markdown" in r]
    Path(args.output).write_text("\n".join(lines) + "\n")
    Path(args.output).with_suffix(".json").write_text(json.dumps(ratio_summary(rows), indent=1) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
