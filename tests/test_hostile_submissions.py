"""Hostile submissions (issue 14), graded by real `symgrad grade` processes beside correct controls.

Every *reach* attack is a correct pset3 submission that keeps its functions only when its escape
worked: contained means 0 of 12 correct (all missing), escaped means 12 of 12. Each one is also run
on the host, outside the sandbox, to show that the escape is real there (so the test can fail).
The other attacks (deadline, results log, memory, processes, leftovers, killed or stopped graders,
two graders at once) are checked by what they leave: verdicts, time, processes and files.

Run as root (CI) with every layer on; without root the sandbox cannot hold and these tests fail
rather than skip when SYMGRAD_REQUIRE_TOOLS=1.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from symgrad.verify import jail, sandbox

from pset3_submissions import build

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_TOOLS = os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1"
TIME_LIMIT = 2.0
FUNCTIONS = 12


def _all_layers() -> bool:
    active = sandbox.layers()
    return all(on for name, on in active.items() if name != sandbox.NOBODY_LAYER)


pytestmark = pytest.mark.skipif(not _all_layers() and not REQUIRE_TOOLS,
                                reason="needs root, namespaces and cgroups (fails instead in CI: "
                                       "SYMGRAD_REQUIRE_TOOLS=1)")


def test_every_layer_is_on():
    """Where the tools are required, a missing layer fails here (never a skip)."""
    assert _all_layers(), sandbox.layers()


# -- reach attacks: each snippet returns True when it got through -------------------------------
# Placeholders: GENERATED, ROOT, SUBS, OUT, UNIX_SOCK, TCP_PORT, GRADER_PID, SECRET_ENV, SYMGRAD_FILE.

REACH = {
    "read_generated_api": "return len(open(GENERATED).read()) > 0",
    "exec_generated_api": "exec(open(GENERATED).read(), {}); return True",
    "import_symgrad_from_repo": "sys.path.insert(0, ROOT); import symgrad.derive; return True",
    "import_symgrad_installed": "import symgrad; return True",
    "list_templates": "return len(os.listdir(ROOT + '/templates')) > 0",
    "list_repository": "return len(os.listdir(ROOT)) > 0",
    "list_other_submissions": "return len(os.listdir(SUBS)) > 1",
    "read_other_submission": "return len(open(SUBS + '/control.py').read()) > 0",
    "list_reports": "return os.path.isdir(OUT)",
    "host_cmdlines": "return any(b'pytest' in open(f'/proc/{p}/cmdline', 'rb').read() "
                     "for p in os.listdir('/proc') if p.isdigit())",
    "many_processes_visible": "return sum(p.isdigit() for p in os.listdir('/proc')) > 8",
    "signal_grader": "os.kill(GRADER_PID, 0); return True",
    "host_unix_socket": "s = socket.socket(socket.AF_UNIX); s.connect(UNIX_SOCK); return True",
    "host_tcp_loopback": "s = socket.create_connection(('127.0.0.1', TCP_PORT), timeout=1); return True",
    "etc_passwd": "return 'root' in open('/etc/passwd').read()",
    "list_var": "return len(os.listdir('/var')) > 0",
    # (the folders leading to the Python installation are in the jail, empty but for that path)
    "files_in_home_of_root": "return any(os.path.isfile('/root/' + e) for e in os.listdir('/root'))",
    # every installed package is importable (tests/test_sandbox_env.py), but not symgrad's files in it
    "read_installed_symgrad": "return len(open(SYMGRAD_FILE).read()) > 0",
    "list_installed_symgrad": "return len(os.listdir(os.path.dirname(SYMGRAD_FILE))) > 0",
    "other_work_folders": "import glob; return len(glob.glob('/tmp/symgrad-*')) > 0",
    "cgroup_files": "return len(os.listdir('/sys/fs/cgroup')) > 0",
    "proc_1_root": "return len(os.listdir('/proc/1/root')) > 0",
    "proc_1_environ": "return len(open('/proc/1/environ', 'rb').read()) > 0",
    "grader_environment": "return SECRET_ENV in os.environ",
    "raw_disk": "import glob; d = glob.glob('/dev/[sv]d*') + glob.glob('/dev/nvme*'); open(d[0], 'rb'); return True",
    "dev_mem": "open('/dev/mem', 'rb'); return True",
    "write_site_packages": "import numpy; open(os.path.dirname(numpy.__file__) + '/pwned.py', 'w'); return True",
    "setuid_root": "os.setuid(0); return True",
    "chroot_again": "os.chroot('/tmp'); return True",
    "mount_tmpfs": "import ctypes; l = ctypes.CDLL(None); return l.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0",
    "inherited_directory_fd": "import stat; return any(stat.S_ISDIR(os.fstat(fd).st_mode) for fd in range(3, 256) "
                              "if _fd_open(fd))",
    "ptrace_attach": "import ctypes; l = ctypes.CDLL(None); return l.ptrace(16, 1, 0, 0) == 0",
}
HOST_SAFE = set(REACH) - {"exec_generated_api", "signal_grader", "write_site_packages", "setuid_root",
                          "chroot_again", "mount_tmpfs", "ptrace_attach", "dev_mem", "raw_disk",
                          "other_work_folders", "inherited_directory_fd", "grader_environment",
                          "import_symgrad_installed", "many_processes_visible", "list_reports",
                          "proc_1_environ", "cgroup_files", "proc_1_root"}

PRELUDE = """import os, sys, socket
def _fd_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
def _attack():
    {body}
try:
    ESCAPED = bool(_attack())
except BaseException:
    ESCAPED = False
"""
EPILOGUE = """
if not ESCAPED:
    for _name in {functions!r}:
        globals().pop(_name, None)
"""


def _fill(text: str, env: dict) -> str:
    for key, value in env.items():
        text = text.replace(key, repr(value))
    return text


def reach_source(name: str, env: dict) -> str:
    from pset3_submissions import FUNCTIONS as NAMES
    body = REACH[name] if name in REACH else SNOOP[1].replace("\n", "\n    ")
    return (_fill(PRELUDE.replace("{body}", body), env) + build()
            + EPILOGUE.replace("{functions!r}", repr(list(NAMES))))


# -- attacks judged by their effect -----------------------------------------------------------

def _attack(body: str, function: str = "d_loss_d_W2") -> str:
    """A correct submission whose ``function`` does ``body`` first."""
    source = build()
    head = f"def {function}("
    at = source.index(head)
    line_end = source.index("\n", at)
    return "import os, sys, time, threading, signal, select\n" + source[:line_end + 1] + body + source[line_end + 1:]


def _indent(code: str) -> str:
    return "".join("    " + line + "\n" for line in code.strip("\n").split("\n"))


#: six processes each allocate and touch ``size`` bytes and hold them; ESCAPED when all six hold at once
SIX_PROCESSES = """
r, w = os.pipe()
kids = []
for _ in range(6):
    kid = os.fork()
    if kid == 0:
        block = b'\\x01' * {size}
        os.write(w, b'+')
        time.sleep(60)
        os._exit(0)
    kids.append(kid)
got = b''
end = time.time() + {wait}
while len(got) < 6 and time.time() < end:
    if select.select([r], [], [], max(0.0, end - time.time()))[0]:
        got += os.read(r, 6)
for kid in kids:
    os.kill(kid, 9)
if len(got) >= 6:
    raise RuntimeError('ESCAPED: all six held their memory at once')
"""


EFFECT = {
    # the per-call deadline is the server's: growing the log or acking on the pipe moves nothing
    "deadline_log_growth": (_attack(_indent("""
def grow():
    while True:
        with open('/work/out/log', 'ab') as fh:
            fh.write(b'X pad 0\\n')
        time.sleep(0.05)
threading.Thread(target=grow, daemon=True).start()
time.sleep(30)
""")), "crashed"),
    "deadline_spoofed_acks": (_attack(_indent("""
def spam():
    while True:
        try:
            os.write(3, b'd')
        except OSError:
            pass
        time.sleep(0.02)
threading.Thread(target=spam, daemon=True).start()
time.sleep(30)
""")), "crashed"),
    "log_fifo": (_attack(_indent("os.remove('/work/out/log'); os.mkfifo('/work/out/log')")), "all crashed"),
    "log_dev_zero": (_attack(_indent("os.remove('/work/out/log'); os.symlink('/dev/zero', '/work/out/log')")),
                     "all crashed"),
    "log_folder": (_attack(_indent("os.remove('/work/out/log'); os.mkdir('/work/out/log')")), "all crashed"),
    "log_forged_record": (_attack(_indent("os.write(os.open('/work/out/log', os.O_WRONLY | os.O_APPEND), "
                                          "b'V d_loss_d_W2.p0 20\\n\\x93NUMPY\\x01\\x00\\xff\\xff{junk')")), None),
    "six_processes_of_1gb": (_attack(_indent("""
r, w = os.pipe()
for _ in range(6):
    if os.fork() == 0:
        block = b'\\x01' * 10**9
        os.write(w, b'+')
        time.sleep(60)
        os._exit(0)
got = b''
end = time.time() + 8
while len(got) < 6 and time.time() < end:
    got += os.read(r, 6)
if len(got) >= 6:
    raise SystemExit('all six held 1 GB at once')
""")), "not correct"),
    "fork_bomb": (_attack(_indent("""
kids = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        kids += 1
except OSError:
    pass
if kids >= 1000:
    raise RuntimeError(f'ESCAPED: {kids} processes')
""")), None),
    "orphan_daemon": (_attack(_indent("""
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
""")), "correct"),
    "leftover_tmp_and_shm": (_attack(_indent("""
for folder in ('/tmp', '/dev/shm', '.'):
    with open(os.path.join(folder, 'LEFTOVER_MARK'), 'wb') as fh:
        fh.write(b'x' * 2**20)
""")), "correct"),
    "sysv_shared_memory": (_attack(_indent("""
import ctypes
ctypes.CDLL(None).shmget(0x5e11, 4096, 0o1666)
""")), "correct"),
    "cpu_spinning_thread": (_attack(_indent("""
def spin():
    while True:
        pass
threading.Thread(target=spin, daemon=True).start()
""")), None),
    "exit_at_import": ("import os\nos._exit(0)\n" + build(), "all crashed"),
    "segfault": (_attack(_indent("import ctypes; ctypes.string_at(0)")), "crashed"),
}
#: a submission that looks for what an earlier one left behind: escapes when it finds anything
SNOOP = ("snoop_leftovers", "import glob\nreturn bool(glob.glob('/tmp/LEFTOVER_MARK') + "
         "glob.glob('/dev/shm/LEFTOVER_MARK') + glob.glob('/work/LEFTOVER_MARK')) or "
         "__import__('ctypes').CDLL(None).shmget(0x5e11, 0, 0) >= 0")

FOLDERS = ("link_to_secret", "link_loop", "link_to_other_submission", "too_many_files")


def _folder_attack(subs: Path, name: str, secret: Path) -> None:
    folder = subs / name
    folder.mkdir()
    (folder / "solution.py").write_text(build())
    if name == "link_to_secret":
        (folder / "data.txt").symlink_to(secret)
    elif name == "link_loop":
        (folder / "a").symlink_to(".")
        (folder / "b").symlink_to(".")
    elif name == "link_to_other_submission":
        (folder / "peer.py").symlink_to(subs / "control.py")
    else:
        for i in range(sandbox.MAX_SUBMISSION_FILES + 1):
            (folder / f"f{i}.txt").write_text("x")


def _uids_running() -> list:
    """Processes of this branch's sandboxes (servers and everything forked from them carry the server
    folder, /tmp/symgrad-<uid>-server-..., in their command line; other checkouts name theirs otherwise)."""
    out = []
    marker = re.compile(re.escape(tempfile.gettempdir().encode()) + rb"/symgrad-\d{6}-server-")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker.search(fh.read()):
                        out.append(int(entry))
            except OSError:
                pass
    return out


def _sandbox_files() -> set:
    tmp = Path(tempfile.gettempdir())
    return {p.name for p in tmp.iterdir() if re.match(r"symgrad-\d{6}-", p.name)} | \
        {p.name for p in Path("/dev/shm").glob("LEFTOVER*")} | {p.name for p in tmp.glob("LEFTOVER_MARK")}


class Listeners:
    """A world-writable host UNIX socket and a loopback TCP port that accept anything (for a while)."""

    def __init__(self, folder: Path):
        folder.chmod(0o777)
        self.unix_path = str(folder / "host.sock")
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(self.unix_path)
        os.chmod(self.unix_path, 0o777)
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        for s in (self.unix, self.tcp):
            s.listen(64)
            s.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            for s in (self.unix, self.tcp):
                try:
                    s.accept()[0].close()
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.thread.join()
        self.unix.close()
        self.tcp.close()


def _grade(subs: Path, out: Path, jobs: int = 2, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3", "--profile",
                           "pset3", "--jobs", str(jobs), "--time-limit", str(TIME_LIMIT), "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, **kw)


def _installed_symgrad() -> str:
    """A source file of symgrad as installed in the grader's environment (else this checkout's)."""
    from importlib import metadata
    try:
        dist = metadata.distribution("symgrad")
        files = [f for f in dist.files or [] if f.parts and f.parts[0] == "symgrad" and f.suffix == ".py"]
        if files:
            return str(dist.locate_file(files[0]))
    except metadata.PackageNotFoundError:
        pass
    return str(ROOT / "symgrad" / "__init__.py")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    base.chmod(0o755)
    base.parent.chmod(0o755)
    subs, out, sock_dir = base / "subs", base / "out", base / "sock"
    for d in (subs, out, sock_dir):
        d.mkdir()
    subs.chmod(0o755)
    listeners = Listeners(sock_dir)
    (subs / "control.py").write_text(build())
    secret = base / "secret.txt"
    secret.write_text("the answer key")
    env = {"GENERATED": str(ROOT / "generated" / "api" / "pset3.py"), "ROOT": str(ROOT), "SUBS": str(subs),
           "OUT": str(out), "UNIX_SOCK": listeners.unix_path, "TCP_PORT": listeners.port,
           "GRADER_PID": os.getpid(), "SECRET_ENV": "SYMGRAD_TEST_SECRET", "SYMGRAD_FILE": _installed_symgrad()}
    yield {"base": base, "subs": subs, "out": out, "env": env, "secret": secret}
    listeners.close()


@pytest.fixture(scope="module")
def graded(world):
    subs, out, env = world["subs"], world["out"], world["env"]
    (subs / "control_generated.py").write_text((ROOT / "generated" / "api" / "pset3.py").read_text())
    for name in REACH:
        (subs / f"reach_{name}.py").write_text(reach_source(name, env))
    for name, (source, _) in EFFECT.items():
        (subs / f"effect_{name}.py").write_text(source)
    (subs / "zz_snoop_leftovers.py").write_text(reach_source(SNOOP[0], env))
    for name in FOLDERS:
        _folder_attack(subs, name, world["secret"])
    before = _sandbox_files()
    start = time.monotonic()
    done = _grade(subs, out, env={**os.environ, env["SECRET_ENV"]: "1"})
    seconds = time.monotonic() - start
    report = json.loads((out / "grades.json").read_text())["submissions"]
    time.sleep(0.5)
    return {"done": done, "report": report, "seconds": seconds, "running": _uids_running(),
            "files": _sandbox_files() - before}


def _counts(report, name):
    return report[name]["summary"]


def test_grader_exit_status(graded):
    assert graded["done"].returncode in (0, 1), graded["done"].stderr[-2000:]
    assert "internal error" not in graded["done"].stderr


@pytest.mark.parametrize("name", ["control.py", "control_generated.py"])
def test_controls_all_correct(graded, name):
    assert _counts(graded["report"], name)["correct"] == FUNCTIONS, graded["report"][name]


@pytest.mark.parametrize("name", sorted(REACH))
def test_reach_contained(graded, name):
    counts = _counts(graded["report"], f"reach_{name}.py")
    assert counts["correct"] == 0 and counts["missing"] == FUNCTIONS, counts


@pytest.mark.parametrize("name", sorted(HOST_SAFE))
def test_reach_attack_works_outside_the_sandbox(world, name):
    """The same escape, run on the host as the grader's user, gets through: the attack is real."""
    code = reach_source(name, world["env"]) + "\nraise SystemExit(0 if ESCAPED else 1)\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT), world["env"]["SECRET_ENV"]: "1"})
    assert done.returncode == 0, done.stderr[-500:]


def test_snooping_submission_finds_nothing_left(graded):
    counts = _counts(graded["report"], "zz_snoop_leftovers.py")
    assert counts["correct"] == 0 and counts["missing"] == FUNCTIONS, counts


@pytest.mark.parametrize("name", sorted(EFFECT))
def test_effect_contained(graded, name):
    sub = graded["report"][f"effect_{name}.py"]
    verdicts = {f["function"]: f["verdict"] for f in sub["functions"]}
    want = EFFECT[name][1]
    assert "ESCAPED" not in json.dumps(sub), sub
    if want == "all crashed":
        assert set(verdicts.values()) == {"crashed"}, verdicts
        return
    attacked = verdicts["d_loss_d_W2"]
    if want == "not correct":
        assert attacked != "correct", sub
    elif want is not None:
        assert attacked == want, sub
    others = [v for f, v in verdicts.items() if f != "d_loss_d_W2"]
    assert others.count("correct") >= 6, verdicts   # what does not call the attacked function still passes


@pytest.mark.parametrize("name", ["log_fifo", "log_dev_zero", "log_folder"])
def test_bad_log_is_a_bad_result(graded, name):
    sub = graded["report"][f"effect_{name}.py"]
    messages = " ".join(f["message"] for f in sub["functions"])
    assert "bad result" in messages or "results log" in messages, sub


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_folder_attacks_not_copied(graded, name):
    sub = graded["report"][name]
    messages = " ".join(f.get("message", "") for f in sub.get("functions", [])) + sub.get("error", "")
    assert "not copied" in messages and sub["summary"]["correct"] == 0, sub
    assert "answer key" not in json.dumps(sub)


def test_deadline_not_moved(graded):
    """Two 30 s sleepers and a 600 s orphan in the run: it still ends in well under a minute."""
    assert graded["seconds"] < 120, graded["seconds"]


def test_nothing_left_running(graded):
    assert graded["running"] == [], graded["running"]


def test_nothing_left_on_disk(graded):
    assert graded["files"] == set(), graded["files"]
    assert not os.path.exists("/dev/shm/LEFTOVER_MARK")


def test_no_sysv_segment_left_on_host():
    import ctypes
    assert ctypes.CDLL(None).shmget(0x5e11, 0, 0) < 0


# -- graders -------------------------------------------------------------------------------------

SPY = """import os, glob
def relu(x):
    raise RuntimeError(f"uid={os.getuid()} seen={len(glob.glob('/tmp/*'))}")
"""


def test_two_graders_at_once_share_nothing(tmp_path):
    procs, outs = [], []
    for k in range(2):
        subs, out = tmp_path / f"subs{k}", tmp_path / f"out{k}"
        subs.mkdir()
        out.mkdir()
        (subs / "control.py").write_text(build())
        for i in range(3):
            (subs / f"spy{i}.py").write_text(SPY + build().replace("def relu(", "def _unused_relu("))
        outs.append(out)
        procs.append(subprocess.Popen([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3",
                                       "--profile", "pset3", "--jobs", "2", "-o", str(out)], cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert all(p.wait(timeout=300) in (0, 1) for p in procs)
    uids = []
    for out in outs:
        report = json.loads((out / "grades.json").read_text())["submissions"]
        assert report["control.py"]["summary"]["correct"] == FUNCTIONS
        for i in range(3):
            message = next(f["message"] for f in report[f"spy{i}.py"]["functions"] if f["function"] == "relu")
            uid = int(message.split("uid=")[1].split()[0])
            assert "seen=0" in message, message   # its /tmp is its own, empty
            uids.append(uid)
    run0, run1 = set(uids[:3]), set(uids[3:])
    assert min(uids) >= jail.UID_BASE and not run0 & run1, (run0, run1)


def test_second_grade_into_the_same_report_folder_refused(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    out.mkdir()
    (subs / "control.py").write_text(build())
    (subs / "slow.py").write_text(_attack(_indent("time.sleep(30)")))
    first = subprocess.Popen([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3", "--profile",
                              "pset3", "--jobs", "1", "--time-limit", "5", "-o", str(out)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / ".symgrad-grade.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = _grade(subs, out)
        assert second.returncode == 2 and "another 'symgrad grade'" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
    finally:
        assert first.wait(timeout=300) in (0, 1)
    report = json.loads((out / "grades.json").read_text())["submissions"]
    assert report["control.py"]["summary"]["correct"] == FUNCTIONS and "slow.py" in report


def _wait_for(path: Path, name: str, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if name in json.loads(path.read_text())["submissions"]:
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_stopped_grader_keeps_results_and_leaves_nothing(tmp_path, how):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    out.mkdir()
    (subs / "a_control.py").write_text(build())
    (subs / "b_stuck.py").write_text(_attack(_indent("""
if os.fork() == 0:
    os.setsid()
    time.sleep(600)
time.sleep(600)
"""), "relu"))
    before = _sandbox_files()
    proc = subprocess.Popen([sys.executable, "-m", "symgrad", "grade", str(subs), "--spec", "pset3", "--profile",
                             "pset3", "--jobs", "1", "--time-limit", "60", "-o", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert _wait_for(out / "grades.json", "a_control.py", 120)
    time.sleep(1.0)   # the stuck one is running now, with its orphan
    assert _uids_running(), "the stuck submission should be running"
    proc.send_signal(how)
    status = proc.wait(timeout=30)
    time.sleep(1.0)
    assert _uids_running() == []
    if how == signal.SIGKILL:   # no time to clean up: the next sandbox to start removes what is left
        sandbox.Sandbox([], {}).close()
    assert _sandbox_files() - before == set()
    report = json.loads((out / "grades.json").read_text())["submissions"]
    assert report["a_control.py"]["summary"]["correct"] == FUNCTIONS
    if how != signal.SIGKILL:
        assert status == 130 and b"finished result" in proc.stderr.read()
    proc.stderr.close()


def test_whole_submission_memory_limit():
    """Six processes of 300 MB each: all six hold at once on the host (the attack is real), never in the
    sandbox, whose 1 GiB is for the whole submission, though each process alone is well within it."""
    code = SIX_PROCESSES.format(size=300 * 10**6, wait=10)
    host = subprocess.run([sys.executable, "-c", "import os, time, select\ntry:\n" + _indent(code)
                           + "except RuntimeError:\n    raise SystemExit(0)\nraise SystemExit(1)\n"],
                          capture_output=True, timeout=120)
    assert host.returncode == 0, host.stderr[-500:]
    source = "import os, time, select\ndef attack(x):\n" + _indent(code) + "    return x\n"
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "s.py"
        sub.write_text(source)
        result = sandbox.run_calls(sub, [{"id": "a.0", "func": "attack", "args": [["scalar", "a"]]}], {"a": 1.0},
                                   sandbox.Limits(wall_seconds=30, memory_bytes=1 << 30))
    assert "ESCAPED" not in json.dumps({k: str(v) for k, v in result.errors.items()}), result.errors
    assert _uids_running() == []
