"""The HTTP server of ``symgrad serve``: standard library only, safe to show a class.

Limits: a request body over :data:`MAX_BODY` bytes is refused unread (413);
an answer over :data:`MAX_ANSWER` characters is refused; at most
``workers`` answers are checked at once (others wait up to
:data:`QUEUE_WAIT` seconds, then get 503); each check runs in a forked child
process (its own process group) killed when it outlives the verify time limit
plus :data:`GRACE` seconds; a connection idle for :data:`IDLE` seconds is
closed. Requests name specs from the listing made at start and files from the
static listing: no path comes from a request. Answers are parsed by symgrad's
own parsers and never executed. There is no spec upload.
"""

from __future__ import annotations

import json
import mimetypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import SymgradError
from ..escape import one_line

MAX_BODY = 16 * 1024      # bytes of a request body
MAX_ANSWER = 2000         # characters of an answer
QUEUE_WAIT = 15.0         # seconds a check waits for a free worker
GRACE = 5.0               # seconds a check may run past the verify time limit (the numeric stage)
PREVIEWS = 4              # previews (parse and print, no proof) made at once, in the request's thread
BACKLOG = 128             # connections waiting to be accepted
IDLE = 15.0               # seconds a connection may sit without sending
STATIC = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
}


@dataclass
class Settings:
    specs_dir: str | None = None   # an instructor's folder of specs; None: the bundled specs
    workers: int = 2
    time_limit: float = 5.0
    show_key: bool = False


class Refused(Exception):
    """A request refused with an HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _static_files() -> dict:
    """URL path -> file, listed once: the only files the server reads."""
    out = {}
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out["/static/" + path.relative_to(STATIC).as_posix()] = path
    return out


def check_in_child(catalog, request: dict, settings: Settings, deadline: float) -> dict:
    """check_answer in a forked child; killed (with whatever it started) past the deadline."""
    from ..verdicts import check_answer
    d = catalog.derivation(request["spec"])   # derived here, once, so the child inherits it

    def child(conn):
        os.setpgid(0, 0)
        try:
            v = check_answer(d, request["wrt"], request["answer"], language=request["language"],
                             time_limit=settings.time_limit, show_key=settings.show_key)
            conn.send(v.as_json())
        except SymgradError as exc:
            conn.send({"error": str(exc)})

    ctx = multiprocessing.get_context("fork")
    parent, child_end = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child, args=(child_end,))
    proc.start()
    child_end.close()
    try:
        if parent.poll(max(0.0, deadline - time.monotonic())):
            return parent.recv()
        return {"verdict": "undetermined", "wrt": request["wrt"], "answer": request["answer"],
                "message": f"checking this answer took longer than {settings.time_limit + GRACE:g} s and was stopped",
                "diagnosis": []}
    except EOFError:
        return {"error": "the check stopped without an answer"}
    finally:
        if proc.is_alive():
            try:   # the child and the prover it started
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:   # not yet in its own group
                proc.kill()
        proc.join(2)
        parent.close()


def _preload() -> None:
    """Import, before any fork, every module a check imports: a child forked while another
    thread held the import lock would wait for it forever (until it is killed)."""
    import importlib
    for name in ("symgrad.verdicts", "symgrad.parse", "symgrad.verify.answer", "symgrad.verify.latex",
                 "symgrad.verify.env", "symgrad.verify.mistakes", "symgrad.verify.exprtext", "symgrad.emit.printers",
                 "symgrad.check.proof", "multiprocessing.connection"):
        importlib.import_module(name)


class App:
    """The state a server shares between its request threads (read-only but for the semaphore)."""

    def __init__(self, settings: Settings):
        from .catalog import Catalog
        self.settings = settings
        self.catalog = Catalog(settings.specs_dir)
        self.static = _static_files()
        self.slots = threading.BoundedSemaphore(max(1, settings.workers))
        self.preview_slots = threading.BoundedSemaphore(PREVIEWS)
        self.page = self._page()
        _preload()

    def _page(self) -> bytes:
        from ..emit.templates import render
        return render("web/page.html.j2", show_key=self.settings.show_key,
                      time_limit=self.settings.time_limit).encode()

    def _request(self, body: dict, keys: tuple) -> dict:
        request = {}
        for key in keys:
            if not isinstance(body.get(key), str):
                raise Refused(400, f"{key} must be a string")
            request[key] = body[key]
        request["language"] = body.get("language", "auto")
        if request["language"] not in ("auto", "latex", "expr"):
            raise Refused(400, "language must be auto, latex or expr")
        if len(request["answer"]) > MAX_ANSWER:
            raise Refused(413, f"the answer is longer than {MAX_ANSWER} characters")
        if request["spec"] not in self.catalog.sources:
            raise Refused(404, "no such spec here")
        return request

    def preview(self, body: dict) -> dict:
        """How the answer reads (parse and print, no proof): cheap, so in the request's thread."""
        request = self._request(body, ("spec", "answer"))
        if not self.preview_slots.acquire(timeout=2.0):
            raise Refused(503, "the server is busy; the preview will come back")
        try:
            from ..verdicts import read_answer
            return read_answer(self.catalog.derivation(request["spec"]), request["answer"], request["language"])
        finally:
            self.preview_slots.release()

    def check(self, body: dict) -> dict:
        request = self._request(body, ("spec", "wrt", "answer"))
        if not self.slots.acquire(timeout=QUEUE_WAIT):
            raise Refused(503, "the server is busy checking other answers; try again in a moment")
        try:
            start = time.monotonic()
            out = check_in_child(self.catalog, request, self.settings, start + self.settings.time_limit + GRACE)
            out["seconds"] = round(time.monotonic() - start, 3)
        finally:
            self.slots.release()
        if "error" in out:   # the spec or the gradient named cannot be used
            raise Refused(422, out["error"])
        return out


class Handler(BaseHTTPRequestHandler):
    server_version = "symgrad"
    sys_version = ""
    timeout = IDLE
    app: App   # set on the subclass made by make_server

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if not getattr(self.server, "quiet", False):
            sys.stderr.write(one_line(f"{self.address_string()} {format % args}", 300) + "\n")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in SECURITY_HEADERS.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = unquote(urlsplit(self.path).path)
        app = self.app
        try:
            if path == "/":
                return self._send(200, app.page, "text/html; charset=utf-8")
            if path in app.static:
                file = app.static[path]
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind.endswith("javascript"):
                    kind += "; charset=utf-8"
                return self._send(200, file.read_bytes(), kind)
            if path == "/api/specs":
                return self._json(200, {"specs": app.catalog.listing()})
            if path.startswith("/api/spec/"):
                name = path[len("/api/spec/"):]
                if name not in app.catalog.sources:
                    return self._error(404, "no such spec here")
                return self._json(200, app.catalog.describe(name))
            return self._error(404, "not found")
        except SymgradError as exc:
            return self._error(422, str(exc))

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        path = urlsplit(self.path).path
        try:
            if path not in ("/api/check", "/api/preview"):
                raise Refused(404, "not found")
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise Refused(411, "a Content-Length is needed")
            if int(length) > MAX_BODY:
                self.close_connection = True   # the body is not read
                raise Refused(413, f"the request is larger than {MAX_BODY} bytes")
            try:
                body = json.loads(self.rfile.read(int(length)))
            except (ValueError, UnicodeDecodeError):
                raise Refused(400, "the request is not JSON") from None
            if not isinstance(body, dict):
                raise Refused(400, "the request must be a JSON object")
            self._json(200, self.app.check(body) if path == "/api/check" else self.app.preview(body))
        except Refused as exc:
            self._error(exc.status, str(exc))
        except SymgradError as exc:
            self._error(422, str(exc))
        except TimeoutError:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG   # a class connecting at once is queued, not reset
    daemon_threads = True


def make_server(host: str, port: int, settings: Settings, quiet: bool = False) -> ThreadingHTTPServer:
    """A server bound to (host, port) (port 0: any free one); ``serve_forever`` runs it."""
    app = App(settings)
    handler = type("SymgradHandler", (Handler,), {"app": app})
    server = Server((host, port), handler)
    server.quiet = quiet
    return server


def serve(host: str, port: int, settings: Settings) -> int:
    try:
        server = make_server(host, port, settings)
    except OSError as exc:
        raise SymgradError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    url = f"http://{host}:{server.server_address[1]}/"
    print(f"symgrad serve: {len(server.RequestHandlerClass.app.catalog.names())} specs at {url} "
          f"(Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
