"""One net and dtype, one process: time every framework on every shape, print JSON lines.

Started by run.py. Threads are pinned before numpy (or torch, or jax) is
imported: every BLAS/OpenMP pool gets one thread, XLA's too, torch is told
set_num_threads(1), and the process is bound to one CPU, so no library's
thread pool can steal another's core. The frameworks then run in interleaved
rounds (per round, in a shuffled order, one untimed call and one timed batch
of each), so a ratio of two frameworks is a median of per-round paired ratios
and load from other processes hits both sides of a pair alike. run.py starts
several such processes per net and dtype and takes the median across them.
"""

from __future__ import annotations

import os
import random

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import nets  # noqa: E402


def generated_module(net: str, width: int, folder: Path, batch: int):
    from symgrad import render_module
    spec = nets.spec(net, width, batch if batch * width <= nets.FIXED_SIZE_LIMIT else None)
    path = folder / f"{spec.name}.py"
    path.write_text(render_module(spec))
    module_spec = importlib.util.spec_from_file_location(spec.name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def matmuls_only(params, inputs):
    """The five matrix products of a step alone (X @ W1, H @ W2, X.T @ dA, H.T @ dZ, dZ @ W2.T)."""
    X, W1, W2 = inputs["X"], params["W1"], params["W2"]
    n, w = X.shape
    outs = [np.empty((n, w), X.dtype), np.empty((w, w), X.dtype), np.empty((n, w), X.dtype)]

    def run():
        np.matmul(X, W1, out=outs[0])
        np.matmul(outs[0], W2, out=outs[2])
        np.matmul(X.T, outs[2], out=outs[1])
        np.matmul(outs[0].T, outs[2], out=outs[1])
        np.matmul(outs[2], W2.T, out=outs[0])

    return run


def make(framework: str, net: str, params, inputs, folder: Path):
    """A zero-argument function running one step of ``framework``."""
    if framework == "matmul":
        return matmuls_only(params, inputs)
    if framework == "generated":
        step = generated_module(net, params["W1"].shape[0], folder, inputs["X"].shape[0]).make_step()
        return lambda: step(params, inputs)
    if framework == "generated_plain":
        module = generated_module(net, params["W1"].shape[0], folder, inputs["X"].shape[0])
        return lambda: module.loss_and_grads(params, inputs)
    if framework == "hand":
        import hand
        fn = hand.STEPS[net]
        return lambda: fn(params, inputs)
    import frameworks
    return getattr(frameworks, f"{framework}_step")(net, params, inputs)


def peak_bytes(framework: str, net: str, params, inputs, folder: Path) -> int:
    """Peak traced numpy memory of a first step, workspace included (numpy frameworks only)."""
    fn = make(framework, net, params, inputs, folder)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def calibrate(fn, target: float = 0.01) -> int:
    """Calls per timed batch so a batch lasts about ``target`` seconds (after warm-up)."""
    for _ in range(3):
        fn()
    t = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t, 1e-7)
    return max(1, int(target / once))


def batch_seconds(fn, k: int) -> float:
    t = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - t) / k


def interleaved(fns: dict, budget: float, min_rounds: int = 7) -> dict:
    """Per-call seconds of every function, one batch each per round, in a shuffled order.

    Returns name -> list of per-round seconds; round i of two functions ran
    close together, so their ratio is a paired sample. Each batch follows one
    untimed call, so it times the steady state a training loop runs in, not the
    cache the previous framework's batch left behind, and the order is drawn
    afresh every round, so no framework always follows the same other one
    (a fixed rotation puts every framework after the same neighbour each round).
    """
    ks = {name: calibrate(fn) for name, fn in fns.items()}
    names = list(fns)
    out = {name: [] for name in names}
    order_rng = random.Random(0)
    end = time.perf_counter() + budget
    r = 0
    while r < min_rounds or (time.perf_counter() < end and r < 200):
        order = order_rng.sample(names, len(names))
        for name in order:
            fns[name]()
            out[name].append(batch_seconds(fns[name], ks[name]))
        r += 1
    return out


def matmul_gflops(dtype: str, size: int = 1024, budget: float = 1.0) -> float:
    """Best GFLOP/s of np.matmul(a, b, out=c) on size x size matrices."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    c = np.empty((size, size), dtype)
    times = interleaved({"matmul": lambda: np.matmul(a, b, out=c)}, budget)["matmul"]
    return 2 * size ** 3 / min(times) / 1e9


def blas_core() -> str | None:
    """The kernel family OpenBLAS picked for this CPU (or OPENBLAS_CORETYPE forced), if it says."""
    import ctypes
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    libs = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    for lib in libs:
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                       "openblas_get_corename64_", "openblas_get_corename"):
            function = getattr(handle, symbol, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return function().decode()
    return None


def available(framework: str) -> bool:
    try:
        __import__(framework)
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--net", choices=nets.NETS, required=True)
    parser.add_argument("--dtype", choices=nets.DTYPES, required=True)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of timing per shape")
    parser.add_argument("--shapes", default="all", help="'all' or e.g. 1x3,32x64")
    parser.add_argument("--frameworks", default="generated,hand,matmul,torch,jax")
    parser.add_argument("--probe", action="store_true",
                        help="only measure np.matmul's throughput and name OpenBLAS's kernel")
    args = parser.parse_args()
    if args.probe:
        np.ones((2, 2), args.dtype) @ np.ones((2, 2), args.dtype)   # OpenBLAS picks its kernel on first use
        print(json.dumps({"matmul_gflops": matmul_gflops(args.dtype, budget=2.0), "dtype": args.dtype,
                          "blas_core": blas_core()}), flush=True)
        return 0
    shapes = nets.SHAPES if args.shapes == "all" else [
        tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    frameworks = [f for f in args.frameworks.split(",")
                  if f in ("generated", "generated_plain", "hand", "matmul") or available(f)]
    print(json.dumps({"matmul_gflops": matmul_gflops(args.dtype), "dtype": args.dtype}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n, w in shapes:
            params, inputs = nets.data(args.net, n, w, args.dtype)
            row = {"net": args.net, "n": n, "w": w, "dtype": args.dtype}
            row["peak_bytes"] = {f: peak_bytes(f, args.net, params, inputs, folder)
                                 for f in ("generated", "hand")}
            fns = {f: make(f, args.net, params, inputs, folder) for f in frameworks}
            row["seconds"] = interleaved(fns, args.budget)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
