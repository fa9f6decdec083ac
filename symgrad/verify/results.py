"""What comes back from a sandboxed run, read as data the submission controls.

The parent opens a child's results log only as a regular file (O_NOFOLLOW,
O_NONBLOCK, a size cap), parses its records defensively and reads values as
plain float64 ``.npy`` arrays, never unpickled: a FIFO, a link, a device or a
crafted header is a "bad result", never a hang or an internal error.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import stat
from pathlib import Path

import numpy as np

MAX_LOG_BYTES = 256 * 2**20       # a run's results log; more is a bad result, not a grader out of memory


def saved_keys(call: dict) -> list:
    """The keys a call saves ("" for its one unnamed value)."""
    return [step[1] for step in call["steps"] if step[0] == "save"]


_NPY_FLOAT64 = re.compile(r"\{'descr': '<f8', 'fortran_order': False, 'shape': \(((?:\d+, ?)*\d*)\), \} *\n")


def _fast_float64(data: bytes):
    """The array of a version-1 .npy of little-endian float64 in C order, the only kind the
    runner writes (its header read by a pattern, not evaluated); None for anything else."""
    if data[:8] != b"\x93NUMPY\x01\x00" or len(data) < 10:
        return None
    end = 10 + int.from_bytes(data[8:10], "little")
    match = _NPY_FLOAT64.fullmatch(data[10:end].decode("latin-1"))
    if not match:
        return None
    shape = tuple(int(n) for n in match.group(1).replace(" ", "").split(",") if n)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if len(data) != end + 8 * count:
        return None
    return np.frombuffer(data, dtype="<f8", count=count, offset=end).reshape(shape).copy()


def _load(source):
    """A plain float64 array from .npy bytes (or a file), never unpickled; else (None, why)."""
    if isinstance(source, (bytes, bytearray)):
        array = _fast_float64(bytes(source))
        if array is not None:
            return array, None
    try:
        with (io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")) as fh:
            array = np.load(fh, allow_pickle=False)
    except Exception as exc:   # a crafted header: any failure of the reader is a bad result, never ours
        return None, f"its result could not be read as a plain array ({type(exc).__name__}: {str(exc)[:200]})"
    if not isinstance(array, np.ndarray):
        return None, "its result is not a plain array"
    if array.dtype != np.float64:
        return None, f"its result has dtype {array.dtype}, not float64"
    return array, None


class BadLog(Exception):
    """The results log is not a regular file of sane size (the submission put a FIFO, a link... there)."""


def _read_regular(path: Path, cap: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``cap`` bytes, opened without following
    a link and without blocking on a FIFO; b"" when it does not exist.

    Raises:
        BadLog: anything else.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise BadLog(f"its results log could not be opened ({exc.strerror}; a symbolic link?)") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadLog("its results log is not a regular file (a FIFO, device or folder put in its place)")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise BadLog(f"its results log is larger than {cap // 2**20} MiB")
    return data


def read_log(path: Path) -> list:
    """(tag, name, payload) records of a child's log; a truncated last record is dropped.

    Raises:
        BadLog: the log is not a regular file of at most MAX_LOG_BYTES.
    """
    data = _read_regular(path, MAX_LOG_BYTES)
    records, pos = [], 0
    while pos < len(data):
        end = data.find(b"\n", pos, pos + 400)
        if end < 0:
            break
        parts = data[pos:end].decode(errors="replace").split(" ")
        if len(parts) != 3 or not parts[2].isdigit():
            break
        size = int(parts[2])
        payload = data[end + 1:end + 1 + size]
        if len(payload) < size:
            break
        records.append((parts[0], parts[1], payload))
        pos = end + 1 + size
    return records


def _collect(log: Path, calls, skip, status, limits, result):
    try:
        records = read_log(log)
    except BadLog as exc:
        done = {c["id"] for c in calls if c["id"] not in skip}
        for cid in done:
            result.errors.setdefault(cid, f"bad result: {exc}")
        return done, None
    return _collect_records(records, calls, skip, status, limits, result)


def _collect_records(records, calls, skip, status, limits, result):
    """Values and errors of a run into ``result``; (calls done, the call that took the child down)."""
    values, errors, started = {}, {}, set()
    for tag, name, payload in records:
        if tag == "I":
            result.import_error = payload.decode(errors="replace")[:500]
        elif tag == "S":
            started.add(name)
        elif tag == "V":
            values[name] = payload
        elif tag == "E":
            errors[name] = payload.decode(errors="replace")[:6000]   # message, then the submission's frames
        elif tag == "C":
            func = next((c["func"] for c in calls if c["id"] == name), None)
            try:
                names = json.loads(payload.decode(errors="replace")[:10000])
            except ValueError:
                names = None
            if func and isinstance(names, list):
                result.calls.setdefault(func, set()).update(str(n) for n in names)
    done, crashed = set(), None
    for call in calls:
        cid = call["id"]
        if cid in skip:
            continue
        failed = cid in errors
        complete = True
        for key in saved_keys(call):
            name = f"{cid}.{key}" if key else cid
            if name in values:
                array, err = _load(values[name])
                if err:
                    result.errors[cid] = err
                    failed = True
                    break
                result.values[name] = array
            else:
                complete = False
        if failed:
            result.errors.setdefault(cid, errors.get(cid, ""))
            done.add(cid)
        elif complete:
            done.add(cid)
        elif cid in started and crashed is None:
            crashed = cid
            if status is None:
                why = f"did not finish within the wall-clock limit of {limits.wall_seconds:g} s"
            elif status < 0:
                why = f"the process was killed by signal {signal.Signals(-status).name} " \
                      "(CPU or memory limit?)"
            else:
                why = f"the process ended (exit status {status}) during this call"
            result.errors[cid] = why
    return done, crashed
