"""HTTP transport: auth, datacenter check, limits, faults, logging, and the
``Sandbox`` object tests use.

Order of checks for an API request mirrors what a client sees from
Mailchimp's edge first and the application second:
concurrency limit (429) -> latency -> injected fault -> API key (401) ->
datacenter (403) -> disabled account (403) -> method override (422) ->
route (404/405) -> body (400) -> handler.
"""

import base64
import contextlib
import json
import re
import socket
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import control
from . import errors as E
from .clock import UTC
from .limits import CDN_502_HTML, FAULT_PROBLEMS
from .requestlog import key_last4
from .router import dispatch
from .store import State

API_PATH = re.compile(r"^/(?:(?P<dc>[A-Za-z0-9]+)/)?3\.0(?P<rest>/.*)?$")
OVERRIDABLE = ("GET", "POST", "PUT", "PATCH", "DELETE")


def extract_key(auth_header):
    """API key from ``Basic base64(any:key)``
    or ``Bearer key`` (also ``apikey key``)."""
    if not auth_header:
        return None
    scheme, _, cred = auth_header.strip().partition(" ")
    scheme = scheme.lower()
    cred = cred.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(cred, validate=False).decode("utf-8", "replace")
        except (ValueError, TypeError):
            return ""
        return decoded.partition(":")[2] if ":" in decoded else decoded
    if scheme in ("bearer", "apikey", "oauth"):
        return cred
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openresty"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def setup(self):
        res = super().setup()
        # headers and body are separate writes: without NODELAY, Nagle plus the
        # client's delayed ACK add ~40 ms to every keep-alive response
        with contextlib.suppress(OSError):  # a socket without the option is only slower
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return res

    # every method goes through the same path so unknown ones get JSON, not HTML
    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_OPTIONS(self):
        self._handle("OPTIONS")

    def log_message(self, fmt, *args):
        if getattr(self.server, "verbose", False):
            return super().log_message(fmt, *args)
        return None

    def send_error(self, code, message=None, explain=None):
        """Malformed requests also get a problem document."""
        err = E.ApiError(
            code,
            "Bad Request" if code == 400 else "Error",
            message or "Malformed request.",
        )
        self._send(
            code,
            json.dumps(err.body(str(uuid.uuid4()))).encode(),
            "application/problem+json; charset=utf-8",
            {"Connection": "close"},
        )

    # ------------------------------------------------------------------ I/O
    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length:
            try:
                return self.rfile.read(int(length))
            except ValueError:
                return b""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _send(self, status, body, content_type, headers=None):
        finish, self._finish = getattr(self, "_finish", None), None
        if finish is not None:
            # log and free the connection slot *before* the client can see the
            # answer: its next call must find the log complete and the slot free
            finish(status)
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _problem(self, err, request_id, extra_headers=None):
        headers = {"X-Request-Id": request_id}
        headers.update(err.headers or {})
        headers.update(extra_headers or {})
        body = json.dumps(err.body(request_id)).encode()
        self._send(err.status, body, "application/problem+json; charset=utf-8", headers)
        return err.status

    def _base_url(self):
        host = self.headers.get("Host") or "{}:{}".format(
            *self.server.server_address[:2]
        )
        return f"http://{host}"

    # --------------------------------------------------------------- routing
    def _handle(self, method):
        state = self.server.state
        raw = self._read_body()
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            status, body, ctype = control.handle(state, method, path, query, raw)
            self._send(status, body, ctype)
            return
        request_id = str(uuid.uuid4())
        found = API_PATH.match(path)
        if not found:
            self._problem(E.not_found(), request_id)
            return
        api_path = (found.group("rest") or "/").rstrip("/") or "/"
        key = extract_key(self.headers.get("Authorization"))
        started = time.perf_counter()
        entry = {
            "method": method,
            "path": path,
            "api_path": api_path,
            "query": query,
            "api_key_last4": key_last4(key),
            "request_id": request_id,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
        }
        admitted, in_flight = (True, 0)
        if key:
            admitted, in_flight = state.limiter.acquire(key)
        entry["in_flight"] = in_flight
        done = []

        def finish(status):
            if done:
                return
            done.append(status)
            if key and admitted:
                state.limiter.release(key)
            entry["status"] = status
            entry["duration"] = round(time.perf_counter() - started, 4)
            state.requests.add(**entry)

        self._finish = finish
        try:
            if not admitted:
                entry["throttled"] = True
                self._problem(
                    E.too_many_requests(
                        "You have exceeded the limit of "
                        f"{state.limiter.max_connections} simultaneous connections."
                    ),
                    request_id,
                )
                return
            self._api(
                state,
                method,
                found.group("dc"),
                api_path,
                query,
                raw,
                key,
                request_id,
                entry,
            )
        finally:
            self._finish = None
            finish(0)  # only if nothing was sent (unexpected error)

    def _cut(self, request_id):
        """A call that would exceed the request timeout: the CDN gives up with a 502."""
        self._send(
            502, CDN_502_HTML.encode(), "text/html", {"X-Request-Id": request_id}
        )
        return 502

    def _api(self, state, method, dc, api_path, query, raw, key, request_id, entry):
        timeout = state.request_timeout
        if state.latency:
            time.sleep(min(state.latency, timeout))
            if state.latency >= timeout:
                return self._cut(request_id)
        fault = state.faults.take(method, api_path)
        if fault:
            entry["fault"] = fault["id"]
            if fault["hang"]:
                time.sleep(min(fault["hang"], timeout))
                if fault["hang"] >= timeout:
                    return self._cut(request_id)
            return self._fault(fault, request_id)
        if not key:
            return self._problem(
                E.ApiError(
                    401, "API Key Missing", "Your request did not include an API key."
                ),
                request_id,
            )
        acct = state.accounts.get(key)
        if acct is None or acct.revoked:
            return self._problem(
                E.ApiError(
                    401,
                    "API Key Invalid",
                    "Your API key may be invalid, or you've attempted to access the "
                    "wrong datacenter.",
                ),
                request_id,
            )
        if dc and dc != acct.dc:
            return self._problem(
                E.ApiError(
                    403,
                    "Wrong Datacenter",
                    f"The API key provided is linked to datacenter '{acct.dc}', not "
                    f"'{dc}'. Use https://{acct.dc}.api.mailchimp.com/3.0/.",
                ),
                request_id,
            )
        if acct.disabled:
            return self._problem(
                E.ApiError(403, "User Disabled", "This account has been disabled."),
                request_id,
            )
        override = self.headers.get("X-HTTP-Method-Override")
        if override:
            if method != "POST" or override.upper() not in OVERRIDABLE:
                return self._problem(
                    E.ApiError(
                        422,
                        "Invalid Method Override",
                        "X-HTTP-Method-Override is only honoured on POST requests and "
                        "must name GET, PUT, PATCH or DELETE.",
                    ),
                    request_id,
                )
            method = override.upper()
            entry["method_override"] = method
        result = dispatch(state, acct, method, api_path, query, raw, self._base_url())
        if result.events:
            state.webhooks.deliver(result.events, "api")
        if isinstance(result.doc, E.ApiError):
            return self._problem(result.doc, request_id, result.headers)
        headers = {"X-Request-Id": request_id}
        headers.update(result.headers)
        if result.status == 204 or result.doc is None:
            self._send(result.status, b"", None, headers)
        else:
            self._send(
                result.status,
                json.dumps(result.doc).encode(),
                "application/json; charset=utf-8",
                headers,
            )
        return result.status

    def _fault(self, fault, request_id):
        status = fault["status"]
        headers = {"X-Request-Id": request_id}
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        if status == 502:
            self._send(502, CDN_502_HTML.encode(), "text/html", headers)
        elif status == 403:
            self._send(403, b"", None, headers)  # bare 403: heavy throttling
        else:
            title, detail = FAULT_PROBLEMS.get(
                status, ("Error", "An injected sandbox fault.")
            )
            self._problem(E.ApiError(status, title, detail), request_id, headers)
        return status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Sandbox:
    """The Mailchimp sandbox server; ``start()`` serves on a daemon thread."""

    def __init__(self, host="127.0.0.1", port=8090, state=None, verbose=False):
        self.host = host
        self.port = port
        self.state = state or State()
        self.verbose = verbose
        self._server = None
        self._thread = None

    def _bind(self):
        self._server = _Server((self.host, self.port), _Handler)
        self._server.state = self.state
        self._server.verbose = self.verbose
        self.port = self._server.server_address[1]

    def start(self):
        self._bind()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name="mailchimp-sandbox",
            kwargs={"poll_interval": 0.1},
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self):
        self._bind()
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    @property
    def url(self):
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def api_url(self, dc="us1"):
        return f"{self.url}/{dc}/3.0"

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.state.batches.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
