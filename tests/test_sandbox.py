"""The sandbox on its own: layers reported, results read back as plain arrays only."""

import pickle

import numpy as np
import pytest

from symgrad.verify import sandbox


def test_layers_reported():
    active = sandbox.layers()
    assert active["wall-clock limit"] and active["CPU limit"]
    assert set(active) >= {"network and PID namespaces (unshare)", "unprivileged user (nobody)"}


@pytest.mark.parametrize("payload", ["object array", "pickle", "empty", "int array"])
def test_results_other_than_float_arrays_refused(tmp_path, payload):
    path = tmp_path / "r.npy"
    if payload == "object array":
        np.save(path, np.array([object()], dtype=object), allow_pickle=True)
    elif payload == "pickle":
        path.write_bytes(pickle.dumps([1.0, 2.0]))
    elif payload == "empty":
        path.write_bytes(b"")
    else:
        np.save(path, np.arange(3))
    array, error = sandbox._load(path)
    assert array is None and error


def test_hang_does_not_lose_other_calls(tmp_path):
    sub = tmp_path / "s.py"
    sub.write_text("import time\ndef slow(x):\n    time.sleep(100)\ndef fast(x):\n    return x * 2\n")
    calls = [{"id": "slow.0", "func": "slow", "args": [["scalar", "a"]]},
             {"id": "slow.1", "func": "slow", "args": [["scalar", "a"]]},
             {"id": "fast.0", "func": "fast", "args": [["scalar", "a"]]}]
    result = sandbox.run_calls(sub, calls, {"a": 1.5}, sandbox.Limits(wall_seconds=1.0))
    assert "wall-clock" in result.errors["slow.0"] and "slow.1" in result.errors
    assert float(result.values["fast.0"]) == 3.0
