"""`symgrad serve` over HTTP: answers checked, and the limits that make it safe for a class
(oversized request, slow answer, 20 concurrent requests, paths outside the listings),
with the server still answering afterwards. The server runs as `python -m symgrad serve`."""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from symgrad.web.server import GRACE, MAX_ANSWER, MAX_BODY

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT = 2.0
WRONG = "(y_predicted - y) * h1"                       # dL/dW2 of pset3 without the 2
CORRECT = "2 * (y_predicted - y) * h1"
CORRECT_LATEX = r"2 (y_{\mathrm{pred}} - y) \vec{h}^{1}"
SLOW = "((1000 * (W0 + x + y))**64)**64"               # sympy cannot decide it in time (test_hostile)


def start_server(*extra):
    proc = subprocess.Popen([sys.executable, "-m", "symgrad", "serve", "--port", "0", "--time-limit", str(TIME_LIMIT),
                             *extra], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    assert found, line
    return proc, int(found.group(1))


@pytest.fixture(scope="module")
def server():
    proc, port = start_server("--workers", "2")
    yield port
    proc.terminate()
    proc.wait(10)


def request(port, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=headers or {})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    kind = response.getheader("Content-Type", "")
    return response.status, (json.loads(payload) if kind.startswith("application/json") else payload)


def check(port, wrt, answer, language="auto", **kw):
    return request(port, "POST", "/api/check", {"spec": "pset3", "wrt": wrt, "answer": answer, "language": language},
                   {"Content-Type": "application/json"}, **kw)


def alive(port) -> bool:
    status, data = check(port, "W2", CORRECT)
    return status == 200 and data["verdict"] == "correct"


def test_page_and_assets_come_from_the_server(server):
    status, page = request(server, "GET", "/")
    assert status == 200
    text = page.decode()
    assert re.findall(r'(?:src|href)="([^"]+)"', text)
    for ref in re.findall(r'(?:src|href)="([^"]+)"', text):
        assert ref.startswith("/static/"), ref      # nothing from a CDN
        assert request(server, "GET", ref)[0] == 200
    status, font = request(server, "GET", "/static/fonts/KaTeX_Main-Regular.woff2")
    assert status == 200 and font[:4] == b"wOF2"


def test_specs_and_questions(server):
    status, data = request(server, "GET", "/api/specs")
    names = [s["name"] for s in data["specs"]]
    assert status == 200 and "pset3" in names
    status, spec = request(server, "GET", "/api/spec/pset3")
    assert [q["wrt"] for q in spec["questions"]][:3] == ["W0", "W1", "W2"]
    assert any(row["latex"].startswith("L =") for row in spec["network"])


@pytest.mark.parametrize("answer, language, verdict", [
    (CORRECT, "expr", "correct"), (CORRECT_LATEX, "latex", "correct"), (CORRECT_LATEX, "auto", "correct"),
    (WRONG, "auto", "incorrect")])
def test_verdicts(server, answer, language, verdict):
    status, v = check(server, "W2", answer, language)
    assert status == 200 and v["verdict"] == verdict, v
    assert v["read_as_latex"]
    if verdict == "incorrect":
        assert [d["mistake"] for d in v["diagnosis"]] == ["missing_factor_2"] and v["counterexample"]


def test_preview_reads_without_proving(server):
    body = {"spec": "pset3", "answer": CORRECT, "language": "auto"}
    status, read = request(server, "POST", "/api/preview", body)
    assert status == 200 and read["language"] == "expr" and read["read_as_latex"] == r"2 (y_{\mathrm{pred}} - y) \vec{h}^{1}"
    status, read = request(server, "POST", "/api/preview", {**body, "answer": "W2 + $"})
    assert status == 200 and read["read_as_latex"] is None and read["error_column"] == 6


def test_parse_failure_gives_the_column(server):
    text = "2 * (y_predicted - y) * h1 $ 3"
    status, v = check(server, "W2", text)
    assert status == 200 and v["verdict"] == "unusable" and v["error_column"] == text.index("$") + 1


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
                                  "/api/spec/..%2f..%2fetc%2fpasswd", "/api/spec/%2fetc%2fpasswd", "/etc/passwd",
                                  "/static/fonts/../../catalog.py"])
def test_no_file_outside_the_listings(server, path):
    status, body = request(server, "GET", path)
    assert status == 404 and b"import" not in (body if isinstance(body, bytes) else b"")


def test_oversized_request_refused_unread(server):
    start = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", server), timeout=30)
    head = (f"POST /api/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {100 * MAX_BODY}\r\n\r\n").encode()
    sock.sendall(head + b"{" * 1000)    # the rest of the 1.6 MB is never sent
    reply = sock.recv(4096).decode()
    sock.close()
    assert reply.startswith("HTTP/1.0 413") or reply.startswith("HTTP/1.1 413"), reply
    assert time.monotonic() - start < 5
    status, v = check(server, "W2", "W2 + " * (MAX_ANSWER // 5 + 10) + "W2")
    assert status == 413 and "longer than" in v["error"]
    assert alive(server)


@pytest.mark.parametrize("body, headers, status", [
    (b"not json", {"Content-Type": "application/json"}, 400),
    (b"[1, 2]", {}, 400),
    (json.dumps({"spec": "nope", "wrt": "W2", "answer": "x"}).encode(), {}, 404),
    (json.dumps({"spec": "pset3", "wrt": "W2", "answer": 3}).encode(), {}, 400),
    (json.dumps({"spec": "pset3", "wrt": "W9", "answer": "x"}).encode(), {}, 422),
])
def test_bad_requests(server, body, headers, status):
    got, data = request(server, "POST", "/api/check", body, headers)
    assert got == status, data
    assert "error" in data


def test_slow_answer_is_stopped_and_others_go_on(server):
    result = {}

    def slow():
        start = time.monotonic()
        result["slow"] = check(server, "W0", SLOW)
        result["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    start = time.monotonic()
    assert alive(server)                  # the other worker answers meanwhile
    fast = time.monotonic() - start
    thread.join(60)
    status, v = result["slow"]
    assert status == 200 and v["verdict"] == "undetermined", v
    assert result["seconds"] < TIME_LIMIT + GRACE + 3, result["seconds"]
    assert fast < TIME_LIMIT + 3
    print(f"slow answer: {result['seconds']:.2f} s; a correct answer meanwhile: {fast:.2f} s")


def test_twenty_concurrent_requests(server):
    answers = [(CORRECT, "correct"), (WRONG, "incorrect"), (CORRECT_LATEX, "correct"), ("W2 $", "unusable")] * 5
    results = [None] * len(answers)

    def one(i):
        results[i] = check(server, "W2", answers[i][0])

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(answers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    seconds = time.monotonic() - start
    assert [r[0] for r in results] == [200] * 20
    assert [r[1]["verdict"] for r in results] == [a[1] for a in answers]
    assert alive(server)
    print(f"20 concurrent checks, 2 workers: {seconds:.2f} s")


def test_idle_connection_does_not_block_the_server(server):
    sock = socket.create_connection(("127.0.0.1", server), timeout=30)
    sock.sendall(b"POST /api/check HTTP/1.1\r\nHost: x\r\n")   # and nothing more
    assert alive(server)
    sock.close()


def test_instructor_folder_offers_only_its_specs(tmp_path):
    (tmp_path / "mine.toml").write_text((ROOT / "symgrad" / "specs" / "pset3.toml").read_text())
    (tmp_path / "notes.txt").write_text("not a spec")
    proc, port = start_server("--specs", str(tmp_path))
    try:
        status, data = request(port, "GET", "/api/specs")
        assert [s["name"] for s in data["specs"]] == ["mine"]
        assert request(port, "GET", "/api/spec/pset3")[0] == 404
        status, v = request(port, "POST", "/api/check", {"spec": "mine", "wrt": "W2", "answer": CORRECT})
        assert v["verdict"] == "correct"
    finally:
        proc.terminate()
        proc.wait(10)


def test_bad_folder_is_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "symgrad", "serve", "--specs", str(tmp_path / "none")], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_a_check_past_its_deadline_is_killed_with_its_prover():
    from symgrad.web.catalog import Catalog
    from symgrad.web.server import Settings, check_in_child
    before = {p.pid for p in __import__("multiprocessing").active_children()}
    start = time.monotonic()
    v = check_in_child(Catalog(), {"spec": "pset3", "wrt": "W0", "answer": SLOW, "language": "expr"},
                       Settings(time_limit=30.0), time.monotonic() + 1.0)
    assert time.monotonic() - start < 4
    assert v["verdict"] == "undetermined" and "stopped" in v["message"]
    assert {p.pid for p in __import__("multiprocessing").active_children()} <= before
