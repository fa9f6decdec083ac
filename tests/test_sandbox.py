"""The sandbox on its own: layers reported, results read back as plain arrays only."""

import os
import pickle

import numpy as np
import pytest

from symgrad.verify import sandbox


def test_layers_reported():
    active = sandbox.layers()
    assert active["wall-clock limit"] and active["CPU limit"]
    assert set(active) >= {"network and PID namespaces (unshare)", sandbox.USER_LAYER}


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


def test_grader_folders_hidden(tmp_path):
    import shutil
    import tempfile
    from pathlib import Path
    shared = Path(tempfile.mkdtemp(prefix="symgrad-test-grader-"))  # world-readable, unlike tmp_path
    request_cleanup = shared
    (shared / "other_student.py").write_text("secret = 1\n")
    shared.chmod(0o755)
    sub = tmp_path / "s.py"
    sub.write_text(f"import os\ndef look(x):\n    return float(len(os.listdir({str(shared)!r})))\n")
    calls = [{"id": "look.0", "func": "look", "args": [["scalar", "a"]]}]
    result = sandbox.run_calls(sub, calls, {"a": 1.0}, sandbox.Limits(wall_seconds=5), hide=(shared,))
    shutil.rmtree(request_cleanup)
    assert "look.0" in result.values, result.errors
    seen = float(result.values["look.0"])
    if sandbox.layers()["grader's folders hidden (mount namespace)"]:
        assert seen == 0.0
    else:
        assert seen == 1.0  # exposed: the README says this layer needs root and unshare --mount


@pytest.mark.parametrize("value", [3.5, [1.0, -2.0], [[1.0, 2.0, 3.0]], np.zeros((2, 0)), np.ones((2, 1, 3)),
                                   np.asfortranarray(np.arange(6.0).reshape(2, 3))])
def test_log_values_read_back_exactly(value):
    import io
    buf = io.BytesIO()
    np.save(buf, np.array(value, dtype=np.float64), allow_pickle=False)
    array, error = sandbox._load(buf.getvalue())
    assert error is None and array.dtype == np.float64
    np.testing.assert_array_equal(array, np.asarray(value, dtype=np.float64))


@pytest.mark.parametrize("payload", [b"", b"\x93NUMPY\x01\x00", b"garbage",
                                     b"\x93NUMPY\x01\x00\x46\x00{'descr': '<f8', 'fortran_order': False, "
                                     b"'shape': (3,), }          \n" + b"\x00" * 16])
def test_truncated_or_foreign_log_values_refused(payload):
    array, error = sandbox._load(payload)
    assert array is None and error


def test_log_records_stop_at_a_truncated_one(tmp_path):
    log = tmp_path / "log"
    log.write_bytes(b"S f.p0 0\nE f.p0 5\nboom!V f.p1 100\nshort")
    assert sandbox.read_log(log) == [("S", "f.p0", b""), ("E", "f.p0", b"boom!")]


def test_each_run_gets_its_own_unprivileged_user(tmp_path):
    sub = tmp_path / "s.py"
    sub.write_text("import os\ndef who(x):\n    return float(os.getuid())\n")
    calls = [{"id": "who.0", "func": "who", "args": [["scalar", "a"]]}]
    with sandbox.Sandbox(calls, {"a": 1.0}, sandbox.Limits(wall_seconds=5)) as box:
        uids = [float(box.run(sub).values["who.0"]) for _ in range(2)]
    active = sandbox.layers()
    if active[sandbox.USER_LAYER]:
        assert uids[0] != uids[1] and min(uids) >= sandbox.UID_BASE
    elif active[sandbox.NOBODY_LAYER]:
        assert uids[0] == uids[1] != 0
    else:
        assert uids[0] == uids[1] == os.getuid()


def test_without_fresh_uids_runs_fall_back_to_nobody(monkeypatch):
    monkeypatch.setattr(sandbox, "_fresh_uids", lambda: False)
    if os.geteuid() == 0 and sandbox._nobody() is not None:
        assert sandbox._next_user() == sandbox._nobody()
        assert sandbox.layers()[sandbox.NOBODY_LAYER] and not sandbox.layers()[sandbox.USER_LAYER]
    else:
        assert sandbox._next_user() is None
