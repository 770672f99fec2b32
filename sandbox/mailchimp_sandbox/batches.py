"""Asynchronous batch operations (/batches).

``POST /batches`` returns at once; one background worker (Mailchimp runs one
batch at a time) executes each operation through ``router.dispatch`` with the
submitting account, then packs ``[{status_code, operation_id, response}]``
(``response`` being a JSON *string*) into a gzipped tar served at
``/_sandbox/batch-results/{id}.tar.gz``.  Status goes pending -> started ->
finished.  The control API can pause the worker (to observe ``pending`` or
hit the 500-pending limit) and slow each operation down.
"""

import io
import json
import tarfile
import threading
import time
from collections import OrderedDict, deque
from urllib.parse import parse_qsl, urlsplit

from .clock import iso

RESULT_FILE_CHUNK = 500


class Batch:
    def __init__(self, batch_id, api_key, operations, now_us):
        self.id = batch_id
        self.api_key = api_key
        self.operations = operations
        self.status = "pending"
        self.submitted_us = now_us
        self.completed_us = 0
        self.total = len(operations)
        self.finished = 0
        self.errored = 0
        self.tar = None
        self.cancelled = False

    def json(self, base_url):
        return {
            "id": self.id,
            "status": self.status,
            "total_operations": self.total,
            "finished_operations": self.finished,
            "errored_operations": self.errored,
            "submitted_at": iso(self.submitted_us),
            "completed_at": iso(self.completed_us),
            "response_body_url": (
                f"{base_url}/_sandbox/batch-results/{self.id}.tar.gz"
                if self.tar is not None
                else ""
            ),
        }


def build_tar(batch_id, results):
    """gzip'd tar of JSON files, each an array of operation results."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name=f"{batch_id}")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = int(time.time())
        tar.addfile(info)
        for n in range(0, max(len(results), 1), RESULT_FILE_CHUNK):
            data = json.dumps(results[n : n + RESULT_FILE_CHUNK]).encode()
            info = tarfile.TarInfo(name=f"{batch_id}/{n // RESULT_FILE_CHUNK:04d}.json")
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def split_operation_path(path, params):
    """Operation path may carry /3.0 and a query string; params add to the query."""
    parts = urlsplit(path)
    p = parts.path
    if p.startswith("/3.0"):
        p = p[4:] or "/"
    if not p.startswith("/"):
        p = "/" + p
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for k, v in (params or {}).items():
        query[k] = (
            ("true" if v else "false")
            if isinstance(v, bool)
            else (",".join(map(str, v)) if isinstance(v, list) else str(v))
        )
    return p, query


class BatchRunner:
    def __init__(self, state):
        self.state = state
        self._lock = threading.Condition()
        self._batches = OrderedDict()
        self._queue = deque()
        self._paused = False
        self.operation_delay = 0.0
        self._thread = None
        self._stopped = False

    # -------------------------------------------------------------- control
    def reset(self):
        with self._lock:
            for b in self._batches.values():
                b.cancelled = True
            self._batches.clear()
            self._queue.clear()
            self._paused = False
            self.operation_delay = 0.0
            self._lock.notify_all()

    def pause(self, paused=True):
        with self._lock:
            self._paused = bool(paused)
            self._lock.notify_all()

    def configure(self, paused=None, operation_delay=None):
        if operation_delay is not None:
            self.operation_delay = max(0.0, float(operation_delay))
        if paused is not None:
            self.pause(paused)
        return {"paused": self._paused, "operation_delay": self.operation_delay}

    # ------------------------------------------------------------------ API
    def pending_count(self, api_key):
        with self._lock:
            return sum(
                1
                for b in self._batches.values()
                if b.api_key == api_key and b.status != "finished"
            )

    def submit(self, api_key, operations):
        with self._lock:
            batch = Batch(
                self.state.new_id(5), api_key, operations, self.state.now_us()
            )
            self._batches[batch.id] = batch
            self._queue.append(batch)
            self._ensure_worker()
            self._lock.notify_all()
            return batch

    def get(self, batch_id, api_key=None):
        with self._lock:
            b = self._batches.get(batch_id)
            if b is None or (api_key is not None and b.api_key != api_key):
                return None
            return b

    def all(self):
        with self._lock:
            return list(self._batches.values())

    def list(self, api_key):
        with self._lock:
            return [b for b in self._batches.values() if b.api_key == api_key]

    def cancel(self, batch_id):
        with self._lock:
            b = self._batches.pop(batch_id, None)
            if b is not None:
                b.cancelled = True
            return b is not None

    def result_tar(self, batch_id):
        with self._lock:
            b = self._batches.get(batch_id)
            return b.tar if b is not None else None

    def wait(self, batch_id, timeout=30.0):
        """Block until the batch is finished (in-process tests)."""
        deadline = time.time() + timeout
        with self._lock:
            while True:
                b = self._batches.get(batch_id)
                if b is None or b.status == "finished":
                    return b
                left = deadline - time.time()
                if left <= 0:
                    return b
                self._lock.wait(min(left, 0.05))

    # --------------------------------------------------------------- worker
    def _ensure_worker(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._work, name="mailchimp-sandbox-batches", daemon=True
            )
            self._thread.start()

    def stop(self):
        """End the worker thread (Sandbox.stop)."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()

    def _work(self):
        while True:
            with self._lock:
                while (self._paused or not self._queue) and not self._stopped:
                    self._lock.wait(0.5)
                if self._stopped:
                    return
                batch = self._queue.popleft()
                if batch.cancelled:
                    continue
                batch.status = "started"
            self._run(batch)

    def _run(self, batch):
        from .router import dispatch

        state = self.state
        account = state.accounts.get(batch.api_key)
        results = []
        for op in batch.operations:
            if batch.cancelled:
                return
            if self.operation_delay:
                time.sleep(self.operation_delay)
            path, query = split_operation_path(op["path"], op.get("params"))
            body = op.get("body")
            raw = body.encode() if isinstance(body, str) else b""
            if account is None:  # account removed by a reset meanwhile
                return
            res = dispatch(state, account, op["method"].upper(), path, query, raw, "")
            if res.status >= 400:
                doc = res.doc.body(state.new_id(16))
            else:
                doc = res.doc if res.doc is not None else {}
            results.append(
                {
                    "status_code": res.status,
                    "operation_id": op.get("operation_id"),
                    "response": json.dumps(doc),
                }
            )
            if res.events:
                state.webhooks.deliver(res.events, "api")
            with self._lock:
                batch.finished += 1
                if res.status >= 400:
                    batch.errored += 1
        tar = build_tar(batch.id, results)
        with self._lock:
            if batch.cancelled:
                return
            batch.tar = tar
            batch.completed_us = state.now_us()
            batch.status = "finished"
            self._lock.notify_all()
