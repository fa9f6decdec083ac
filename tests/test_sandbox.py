"""The sandbox on its own: layers reported, results read back as plain arrays only."""

import os
import pickle

import numpy as np
import pytest

from symgrad.verify import sandbox


REQUIRE_TOOLS = os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1"   # set by .ci/run: CI runs as root


def test_layers_reported():
    active = sandbox.layers()
    assert active["wall-clock limit (the server's clock, per call)"] and active["CPU limit"]
    assert {sandbox.JAIL_LAYER, sandbox.USER_LAYER} <= set(active)
    if REQUIRE_TOOLS or os.geteuid() == 0:   # as root every layer must be on: a missing one fails, never skips
        missing = [name for name, on in active.items() if not on and name != sandbox.NOBODY_LAYER]
        assert not missing, missing


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
    sub.write_text(f"import os\ndef look(x):\n    p = {str(shared)!r}\n"
                   "    return float(len(os.listdir(p))) if os.path.isdir(p) else 0.0\n")
    calls = [{"id": "look.0", "func": "look", "args": [["scalar", "a"]]}]
    result = sandbox.run_calls(sub, calls, {"a": 1.0}, sandbox.Limits(wall_seconds=5), hide=(shared,))
    shutil.rmtree(request_cleanup)
    assert "look.0" in result.values, result.errors
    seen = float(result.values["look.0"])
    if sandbox.layers()[sandbox.JAIL_LAYER]:
        assert seen == 0.0
    else:
        assert seen == 1.0  # exposed: the README says this layer needs root


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


def test_each_sandbox_gets_its_own_unprivileged_user(tmp_path):
    """Two sandboxes open at once (as two workers or two graders) never share a uid; one sandbox keeps
    its uid (locked for its life) from one submission to the next, nothing of the last one left."""
    sub = tmp_path / "s.py"
    sub.write_text("import os\ndef who(x):\n    return float(os.getuid())\n")
    calls = [{"id": "who.0", "func": "who", "args": [["scalar", "a"]]}]
    with sandbox.Sandbox(calls, {"a": 1.0}, sandbox.Limits(wall_seconds=5)) as box, \
            sandbox.Sandbox(calls, {"a": 1.0}, sandbox.Limits(wall_seconds=5)) as other:
        uids = [float(box.run(sub).values["who.0"]), float(other.run(sub).values["who.0"])]
        assert float(box.run(sub).values["who.0"]) == uids[0]
    active = sandbox.layers()
    if active[sandbox.USER_LAYER]:
        assert uids[0] != uids[1] and min(uids) >= sandbox.UID_BASE
    elif active[sandbox.NOBODY_LAYER]:
        assert uids[0] == uids[1] != 0
    else:
        assert uids[0] == uids[1] == os.getuid()


def test_without_fresh_uids_runs_fall_back_to_nobody(monkeypatch):
    monkeypatch.setattr(sandbox, "_fresh_uids", lambda: False)
    with sandbox.Sandbox([], {}) as box:
        if os.geteuid() == 0 and sandbox._nobody() is not None:
            assert box.user == sandbox._nobody()
            assert sandbox.layers()[sandbox.NOBODY_LAYER] and not sandbox.layers()[sandbox.USER_LAYER]
        else:
            assert box.user is None


# -- paths the submission controls: read as regular files only, never followed -----------------

LOG_ATTACKS = {
    # the submission replaces its own results log, then returns normally
    "fifo": "os.remove(log); os.mkfifo(log)",
    "link to /dev/zero": "os.remove(log); os.symlink('/dev/zero', log)",
    "link to a root file": "os.remove(log); os.symlink('/etc/passwd', log)",
    "folder": "os.remove(log); os.mkdir(log)",
}


@pytest.mark.parametrize("attack", sorted(LOG_ATTACKS))
def test_a_results_log_that_is_not_a_regular_file_is_a_bad_result_not_a_hang(tmp_path, attack, hang_guard):
    sub = tmp_path / "s.py"
    sub.write_text("import os\nlog = os.path.join(os.getcwd(), 'out', 'log')\n"
                   f"def f(x):\n    {LOG_ATTACKS[attack]}\n    return x\n")
    calls = [{"id": "f.0", "func": "f", "args": [["scalar", "a"]]}]
    result = sandbox.run_calls(sub, calls, {"a": 1.0}, sandbox.Limits(wall_seconds=5))
    assert "f.0" not in result.values
    assert result.errors["f.0"].startswith("bad result"), result.errors


@pytest.fixture
def hang_guard():
    """Fail (instead of hanging the suite) when a read blocks: the old reader opened a FIFO and waited."""
    import signal

    def hung(*_):
        raise AssertionError("blocked for 20 s")
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_read_log_refuses_a_fifo_a_link_and_a_huge_file_without_blocking(tmp_path, hang_guard):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to("/dev/zero")
    for path in (fifo, link):
        with pytest.raises(sandbox.BadLog):
            sandbox.read_log(path)
    big = tmp_path / "big"
    with open(big, "wb") as fh:
        fh.truncate(sandbox.MAX_LOG_BYTES + 1)   # sparse: no disk used
    with pytest.raises(sandbox.BadLog):
        sandbox.read_log(big)
    assert sandbox.read_log(tmp_path / "missing") == []


CRAFTED_HEADERS = [
    b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little") + b"{'descr': '<f8', 'fortran_order': False, "
    b"'shape': (99999999999, 99999999999), }".ljust(117) + b"\n",
    b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little") + b"{'descr': '<f8', 'fortran_order': False, "
    b"'shape': (-1,), }".ljust(117) + b"\n",
    b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little") + b"{'descr': [('a', '<f8', (2**62,))], "
    b"'fortran_order': False, 'shape': (), }".ljust(117) + b"\n",
    b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little") + b"{'descr': '<f8', 'fortran_order': False, "
    b"'shape': ((((((((((((((((((((((((((((((((((1,),),),),),),),),),),), }".ljust(117) + b"\n",
    b"\x93NUMPY\x02\x00" + (2**31).to_bytes(4, "little") + b"{",
    b"\x93NUMPY\x09\x00",
    b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 70000,
    b"\x93NUMPY\x01\x00" + (40).to_bytes(2, "little") + b"{'descr': '<f8', 'shape': (1,), }\n" + b"\0" * 8,
]


@pytest.mark.parametrize("index", range(len(CRAFTED_HEADERS)))
def test_crafted_npy_headers_are_a_bad_result_not_a_crash(index):
    array, error = sandbox._load(CRAFTED_HEADERS[index])
    assert array is None and error


LINKS = {
    "link to a root-only file": lambda d: (d / "notes.py").symlink_to("/etc/shadow"),
    "link to a folder": lambda d: (d / "all").symlink_to("/"),
    "link loop": lambda d: ((d / "a").symlink_to("."), (d / "b").symlink_to(".")),
    "dangling link": lambda d: (d / "x.py").symlink_to(d / "nowhere"),
}


@pytest.mark.parametrize("kind", sorted(LINKS))
def test_a_folder_submission_with_a_link_is_refused_and_nothing_behind_it_is_copied(tmp_path, kind):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "solution.py").write_text("def f(x):\n    return x\n")
    LINKS[kind](folder)
    calls = [{"id": "f.0", "func": "f", "args": [["scalar", "a"]]}]
    result = sandbox.run_calls(folder, calls, {"a": 1.0}, sandbox.Limits(wall_seconds=5))
    assert "f.0" not in result.values
    assert "symbolic link" in result.errors["f.0"], result.errors


def test_a_submission_file_that_is_a_link_is_refused(tmp_path):
    (tmp_path / "real.py").write_text("def f(x):\n    return x\n")
    link = tmp_path / "s.py"
    link.symlink_to(tmp_path / "real.py")
    result = sandbox.run_calls(link, [{"id": "f.0", "func": "f", "args": [["scalar", "a"]]}], {"a": 1.0},
                               sandbox.Limits(wall_seconds=5))
    assert "symbolic link" in result.errors["f.0"], result.errors


def test_copying_a_submission_is_capped_in_files(tmp_path, monkeypatch):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "solution.py").write_text("def f(x):\n    return x\n")
    for i in range(30):
        (folder / f"junk{i}.txt").write_text("x")
    monkeypatch.setattr(sandbox, "MAX_SUBMISSION_FILES", 10)
    with pytest.raises(sandbox.BadSubmission, match="more than 10 files"):
        sandbox._copy_submission(folder, tmp_path / "copy")
