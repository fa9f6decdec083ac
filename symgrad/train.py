"""Minibatch SGD with symgrad's generated gradients.

The spec is derived and rendered to its numpy module (the same code
``symgrad derive`` writes); training calls that module's ``loss_and_grads``.

Two kinds of spec train the same way:

* one example per call (the bundled homework specs: x = [3], y = []): the
  gradient of a minibatch is the mean of the examples' gradients, taken one
  example at a time;
* a batch spec (an input whose first size is symbolic, X = ["n", 3]): the
  minibatch goes in whole, and the spec's loss says how examples combine.

The objective reported is the mean over the training set of the spec's loss
(per example, or per minibatch-sized call for a batch spec).

Data (.npz): one array per spec input, with a leading example axis; an array
with exactly the declared shape is shared by every example (ridge's l2_reg);
``<input>_test`` arrays form a held-out split. Parameters start from a seeded
normal draw, N(0, 1/d) with d the last axis, and scalars at 0.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import SymgradError

TEST_SUFFIX = "_test"
TARGET = "y"          # the observed input accuracy is measured against
#: Learning-rate schedules: constant, or lr * (1 - epoch / epochs) during each epoch.
DECAYS = ("none", "linear")


class DataError(SymgradError):
    """A data file does not fit the spec it is meant to train."""


@dataclass
class Split:
    """Per-example arrays (leading axis = examples) plus shared ones."""

    examples: dict
    shared: dict

    @property
    def size(self) -> int:
        return len(next(iter(self.examples.values())))

    def batch(self, index) -> dict:
        return {k: v[index] for k, v in self.examples.items()}


@dataclass
class Dataset:
    train: Split
    test: Split | None
    source: str


def bundled_data_names() -> list[str]:
    folder = resources.files("symgrad.data")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".npz"))


def data_path(path_or_name: str) -> Path:
    """A .npz path, or the name of a bundled data set."""
    path = Path(path_or_name)
    if path.suffix == ".npz" or path.exists():
        if not path.is_file():
            raise DataError(f"{path}: no such data file")
        return path
    if path_or_name in bundled_data_names():
        return Path(str(resources.files("symgrad.data") / f"{path_or_name}.npz"))
    raise DataError(f"{path_or_name!r} is neither a .npz file nor a bundled data set "
                    f"({', '.join(bundled_data_names())})")


def batched_inputs(graph) -> bool:
    """True when the spec takes a minibatch per call (an input's first size is symbolic)."""
    return any(v.shape and not v.shape[0].is_Integer for v in graph.inputs.values())


def load_data(path_or_name: str, graph) -> Dataset:
    """Read and check a data file against the spec's inputs."""
    path = data_path(path_or_name)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    extra = set(arrays) - set(graph.inputs) - {n + TEST_SUFFIX for n in graph.inputs}
    if extra:
        raise DataError(f"{path}: arrays {', '.join(sorted(extra))} are not inputs of spec "
                        f"{graph.name!r} (inputs: {', '.join(graph.inputs)})")
    train = _split(path, graph, arrays, "")
    has_test = any(n + TEST_SUFFIX in arrays for n in graph.inputs)
    test = _split(path, graph, arrays, TEST_SUFFIX, shared=train.shared) if has_test else None
    return Dataset(train, test, str(path))


def _split(path, graph, arrays, suffix, shared=None) -> Split:
    batched = batched_inputs(graph)
    examples, common = {}, dict(shared or {})
    for name, var in graph.inputs.items():
        key = name + suffix
        if key not in arrays:
            if name in common:
                continue
            raise DataError(f"{path}: no array {key!r} for input {name!r} of spec {graph.name!r}")
        kind = graph.spec.kinds.get(name)
        if kind is not None and kind.integer:
            value = _integer_array(path, key, arrays[key], kind)
        else:
            value = np.asarray(arrays[key], dtype=np.float64)
        declared = tuple(var.shape)
        if batched and declared and not declared[0].is_Integer:
            per_example = value.shape[1:] if value.ndim == len(declared) else None
            rest = declared[1:]
        else:
            per_example = value.shape[1:] if value.ndim == len(declared) + 1 else None
            rest = declared
            if value.ndim == len(declared) and not suffix:
                if _fits(value.shape, declared):
                    common[name] = value
                    continue
        if per_example is None or not _fits(per_example, rest):
            shown = "(" + ", ".join(str(d) for d in declared) + ")"
            raise DataError(f"{path}: array {key!r} has shape {value.shape}; input {name!r} is {shown} "
                            "per example, so the array needs a leading example axis")
        examples[name] = value
    if not examples:
        raise DataError(f"{path}: no array has an example axis")
    sizes = {name: len(v) for name, v in examples.items()}
    if len(set(sizes.values())) > 1:
        raise DataError(f"{path}: arrays disagree on the number of examples: "
                        + ", ".join(f"{k + suffix} has {v}" for k, v in sizes.items()))
    return Split(examples, common)


def _integer_array(path, key: str, raw, kind) -> np.ndarray:
    """A label or index array, as int64: integers (not floats that look like them) in 0 .. bound-1."""
    raw = np.asarray(raw)
    if not np.issubdtype(raw.dtype, np.integer):
        raise DataError(f"{path}: array {key!r} holds {raw.dtype} values, but its input is {kind.describe()}: "
                        "save it as integers (e.g. y.astype(np.int64))")
    bound = kind.bound if isinstance(kind.bound, int) else None   # a size name: its value comes with the batch
    if raw.size and (raw.min() < 0 or (bound is not None and raw.max() >= bound)):
        bad = raw.min() if raw.min() < 0 else raw.max()
        top = f"{bound - 1}" if bound is not None else f"{kind.bound}-1"
        raise DataError(f"{path}: array {key!r} holds {bad}, outside 0 .. {top} ({kind.describe()})")
    return raw.astype(np.int64)


def _fits(shape, declared) -> bool:
    return len(shape) == len(declared) and all(
        not d.is_Integer or int(d) == s for s, d in zip(shape, declared))


def init_params(graph, rng, sizes: dict) -> dict:
    """N(0, 1/d) with d the last axis; scalars start at 0."""
    out = {}
    for name, var in graph.params.items():
        shape = tuple(int(d) if d.is_Integer else sizes[str(d)] for d in var.shape)
        out[name] = np.zeros(shape) if not shape else rng.normal(size=shape) / np.sqrt(shape[-1])
    return out


@dataclass
class History:
    """What a run measured."""

    spec: str
    epochs: int
    lr: float
    batch_size: int
    seed: int
    decay: str = "none"
    losses: list = field(default_factory=list)     # training objective, before training then after each epoch
    test_loss: float | None = None
    train_accuracy: float | None = None
    test_accuracy: float | None = None
    seconds: float = 0.0
    params: dict = field(default_factory=dict)


class Trainer:
    """Evaluates and steps one spec's generated module on a dataset."""

    def __init__(self, d, module, data: Dataset):
        self.d, self.module, self.data = d, module, data
        self.batched = batched_inputs(d.graph)

    def _inputs(self, split: Split, index) -> dict:
        inputs = dict(split.shared)
        inputs.update(split.batch(index))
        return inputs

    def grads(self, params, split: Split, index) -> tuple[float, dict]:
        """Mean loss and mean gradient over the examples in ``index``."""
        if self.batched:
            return self.module.loss_and_grads(params, self._inputs(split, index))
        total, acc = 0.0, {k: np.zeros_like(v) for k, v in params.items()}
        for i in index:
            loss, g = self.module.loss_and_grads(params, self._inputs(split, i))
            total += loss
            for k in acc:
                acc[k] += g[k]
        n = len(index)
        return total / n, {k: v / n for k, v in acc.items()}

    def evaluate(self, params, split: Split, batch_size: int) -> tuple[float, float | None]:
        """(mean objective, accuracy or None) over a whole split."""
        losses, weights, correct = [], [], 0
        prediction = self.prediction_node()
        for start in range(0, split.size, batch_size if self.batched else 1):
            index = np.arange(start, min(start + (batch_size if self.batched else 1), split.size))
            if self.batched:
                values = self.module.forward(params, self._inputs(split, index))
            else:
                values = self.module.forward(params, self._inputs(split, index[0]))
            losses.append(float(values["loss"]))
            weights.append(len(index))
            if prediction is not None:
                target = self._inputs(split, index if self.batched else index[0])[TARGET]
                correct += int(np.sum(np.argmax(values[prediction], axis=-1) == np.argmax(target, axis=-1)))
        mean = float(np.average(losses, weights=weights))
        return mean, (correct / split.size if prediction is not None else None)

    def prediction_node(self) -> str | None:
        """The last named node, when it predicts a one-hot target of the same shape."""
        graph = self.d.graph
        if TARGET not in graph.inputs:
            return None
        target = graph.inputs[TARGET].shape
        named = [n for n in graph.entry_nodes() if n.entry != "loss"]
        if not named or not target or named[-1].var.shape != target:
            return None
        y = self.data.train.examples.get(TARGET)
        if y is None or not np.all((y == 0) | (y == 1)) or not np.allclose(y.sum(axis=-1), 1):
            return None
        return named[-1].name


def train(spec, data, *, epochs=100, lr=0.05, batch_size=10, seed=0, decay="none", progress=None) -> History:
    """Minibatch SGD on ``spec`` (a Spec, path or bundled name) with ``data``
    (a .npz path or bundled data name). Reproducible from ``seed``."""
    from .check.numeric import load_module
    from .derive import derive
    from .emit.numpy_module import render_module
    if decay not in DECAYS:
        raise SymgradError(f"unknown learning-rate decay {decay!r}; one of {', '.join(DECAYS)}")
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise SymgradError(f"need epochs >= 1, batch size >= 1 and lr > 0 (got {epochs}, {batch_size}, {lr})")
    d = derive(spec)
    dataset = data if isinstance(data, Dataset) else load_data(data, d.graph)
    module = load_module(render_module(d), d.spec.name)
    trainer = Trainer(d, module, dataset)
    rng = np.random.default_rng(seed)
    sizes = _sizes(d.graph, dataset.train)
    params = init_params(d.graph, rng, sizes)
    history = History(d.spec.name, epochs, lr, batch_size, seed, decay)
    start = time.perf_counter()
    history.losses.append(trainer.evaluate(params, dataset.train, batch_size)[0])
    n = dataset.train.size
    for epoch in range(epochs):
        order = rng.permutation(n)
        rate = lr * (1 - epoch / epochs) if decay == "linear" else lr
        for first in range(0, n, batch_size):
            _, grads = trainer.grads(params, dataset.train, order[first:first + batch_size])
            for k in params:
                params[k] = params[k] - rate * grads[k]
        loss, _ = trainer.evaluate(params, dataset.train, batch_size)
        if not np.isfinite(loss):
            raise SymgradError(f"training diverged at epoch {epoch + 1} (loss {loss}); try a smaller --lr")
        history.losses.append(loss)
        if progress is not None:
            progress(epoch + 1, epochs, loss)
    history.seconds = time.perf_counter() - start
    _, history.train_accuracy = trainer.evaluate(params, dataset.train, batch_size)
    if dataset.test is not None:
        history.test_loss, history.test_accuracy = trainer.evaluate(params, dataset.test, batch_size)
    history.params = params
    return history


def _sizes(graph, split: Split) -> dict:
    sizes = {}
    for size, (array, axis) in graph.sizes.items():
        if array in split.shared:
            sizes[size] = split.shared[array].shape[axis]
        elif array in split.examples:
            sizes[size] = split.examples[array].shape[axis + (0 if batched_inputs(graph) else 1)]
    missing = [s for s, (array, _) in graph.sizes.items() if s not in sizes]
    if missing:
        raise DataError(f"sizes {', '.join(missing)} are only set by parameters; give them numbers in the spec")
    return sizes


def progress_bar(stream=None, width=30):
    """A plain-text progress bar on a terminal (one line, redrawn); silent otherwise."""
    stream = sys.stderr if stream is None else stream   # the stream of now, not of import time
    live = hasattr(stream, "isatty") and stream.isatty()

    def show(epoch, epochs, loss):
        if not live:
            return
        done = int(width * epoch / epochs)
        stream.write(f"\r[{'#' * done}{'.' * (width - done)}] epoch {epoch}/{epochs}  loss {loss:.6g}")
        if epoch == epochs:
            stream.write("\n")
        stream.flush()
    return show


def pyplot():
    """matplotlib.pyplot on the non-interactive backend, or a clear error."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SymgradError("the loss-curve plot needs matplotlib (pip install matplotlib), "
                           "or pass --no-plot") from None
    return plt


def plot_losses(history: History, path) -> None:
    """The loss curve as a PNG (needs matplotlib)."""
    plt = pyplot()
    with plt.rc_context({"text.usetex": False}):   # the title is printed literally: no TeX, no $...$ mathtext
        _draw_losses(plt, history, path)


def _draw_losses(plt, history: History, path) -> None:
    import io

    from .io import write_atomic
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(len(history.losses)), history.losses, marker="." if len(history.losses) < 60 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean over examples)")
    ax.set_yscale("log")
    schedule = "" if history.decay == "none" else f" ({history.decay} decay)"
    ax.set_title(f"{history.spec}: SGD, lr {history.lr:g}{schedule}, batch {history.batch_size}, seed {history.seed}",
                 parse_math=False)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": "Generated by symgrad (symgrad train)"})
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
