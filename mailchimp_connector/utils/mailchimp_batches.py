"""Payloads of Mailchimp's two bulk APIs, without I/O.

Batch subscribe (``POST /lists/{id}``) answers 200 even when some members
failed, so its result is normalised into ``BatchSubscribeResult`` whose
``errors`` must be read.  ``/batches`` wants each operation's ``body`` as a
JSON *string* and returns its results as a gzipped tar of JSON files whose
``response`` fields are JSON strings again; both conversions live here.
"""

import io
import json
import tarfile
from dataclasses import dataclass, field

BATCH_SUBSCRIBE_MAX = 500  # members per POST /lists/{list_id}
BATCH_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BATCH_DONE_STATUSES = ("finished", "canceled")
_ERROR_KEYS = ("email_address", "error", "error_code", "field", "field_message")


def chunked(items, size):
    """Yield consecutive lists of at most ``size`` items."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class BatchSubscribeResult:
    """What a (possibly multi-chunk) batch subscribe did, member by member.

    ``created``/``updated`` hold the member dicts Mailchimp returned;
    ``errors`` holds ``{email_address, error, error_code, field,
    field_message}`` for each member that was refused.
    """

    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def add_response(self, response):
        """Merge one chunk's response body into this result."""
        response = response or {}
        self.created.extend(response.get("new_members") or [])
        self.updated.extend(response.get("updated_members") or [])
        for error in response.get("errors") or []:
            self.errors.append({key: error.get(key) for key in _ERROR_KEYS})


def batch_operation(method, path, params=None, body=None, operation_id=None):
    """Build one ``/batches`` operation; a dict/list ``body`` becomes a JSON string."""
    method = str(method or "").upper()
    if method not in BATCH_METHODS:
        raise ValueError(
            "Batch operation method must be one of {}, not {!r}.".format(
                ", ".join(BATCH_METHODS), method
            )
        )
    if not path:
        raise ValueError("Batch operation needs a path.")
    operation = {"method": method, "path": "/" + str(path).lstrip("/")}
    if params:
        operation["params"] = {
            key: query_param_value(value) for key, value in params.items()
        }
    if body is not None:
        operation["body"] = body if isinstance(body, str) else json.dumps(body)
    if operation_id is not None:
        operation["operation_id"] = str(operation_id)
    return operation


def query_param_value(value):
    """Mailchimp wants lower-case booleans and
    comma-separated lists in query strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set):
        return ",".join(str(item) for item in value)
    return value


def parse_batch_results(archive):
    """Read a ``/batches`` results tarball (bytes) into a list of dicts.

    Each dict is ``{status_code, operation_id, response}`` where ``response``
    is the parsed JSON of the operation's answer (None when it was empty).
    Members are read in memory, never extracted to disk.
    """
    results = []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            entries = json.loads(tar.extractfile(member).read().decode("utf-8") or "[]")
            for entry in entries:
                results.append(
                    {
                        "status_code": entry.get("status_code"),
                        "operation_id": entry.get("operation_id"),
                        "response": _parse_response(entry.get("response")),
                    }
                )
    return results


def _parse_response(raw):
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # keep what Mailchimp sent rather than lose it
