"""A ``/batches`` job that may outlast a cron pass.

Mailchimp runs one batch at a time per account and takes its own time over
it, so a sync waits only until its pass must end. The job keeps running in
Mailchimp; the next pass reads its results instead of sending it again. An
operation's id carries a fingerprint of its request, so a result is reused
only for the very same request: a contact changed in between is sent again.
Nothing here touches the database (the push runs it in a sender thread).
"""

import hashlib
import json
import time

from .mailchimp_errors import MailchimpTimeoutError

FIRST_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 15  # polls double up to this: a long job costs few requests
WAIT_WITHOUT_DEADLINE = 600  # a run outside the scheduler waits this long at most


class BatchStillRunning(Exception):
    """The run must stop for now; ``batch_id`` is left running in Mailchimp."""

    def __init__(self, batch_id):
        super().__init__(f"Mailchimp batch {batch_id} is still running.")
        self.batch_id = batch_id


def operation_id(kind, res_id, method, path, body):
    """``kind-record-fingerprint``: the same request always gets the same id."""
    request = json.dumps([method, path, body], sort_keys=True, default=str)
    fingerprint = hashlib.blake2b(request.encode(), digest_size=6).hexdigest()
    return f"{kind}-{res_id}-{fingerprint}"


def record_id(result):
    """The record id named in a result's operation id (see operation_id)."""
    return int(result["operation_id"].split("-")[1])


def operation(kind, res_id, method, path, body, params=None):
    """A ``/batches`` operation whose id says which request it is."""
    op = {
        "method": method,
        "path": path,
        "body": body,
        "operation_id": operation_id(kind, res_id, method, path, body),
    }
    if params:
        op["params"] = params
    return op


def wait_for_results(client, batch_id, deadline=None):
    """The results of a submitted job, or BatchStillRunning when ``deadline``
    (a ``time.monotonic()`` value) comes first."""
    if deadline is None:
        timeout = WAIT_WITHOUT_DEADLINE
    else:
        timeout = max(deadline - time.monotonic(), 0)
    try:
        batch = client.wait_for_batch(
            batch_id,
            poll_interval=FIRST_POLL_SECONDS,
            timeout=timeout,
            max_poll_interval=MAX_POLL_SECONDS,
        )
    except MailchimpTimeoutError as error:
        if getattr(error, "batch", None) is None:
            raise  # the poll itself timed out: a network error, not a slow job
        raise BatchStillRunning(batch_id) from None
    return client.batch_results(batch)


def reusable_results(results):
    """{operation id: result} of the answers worth keeping: not a throttle or a
    server error, which the same request sent again may not get."""
    return {
        result["operation_id"]: result
        for result in results
        if result.get("operation_id")
        and result.get("status_code") != 429
        and (result.get("status_code") or 500) < 500
    }


def run_batch(client, operations, reuse=None, deadline=None):
    """Each operation's result: from ``reuse`` (an earlier job's answers) when it
    holds the same request, the others sent as one job and waited for."""
    reuse = reuse or {}
    results = [
        reuse[op["operation_id"]] for op in operations if op["operation_id"] in reuse
    ]
    rest = [op for op in operations if op["operation_id"] not in reuse]
    if rest:
        batch_id = client.submit_batch(rest)
        # a job just submitted is still pending: its first poll waits (one request less)
        client.sleep(FIRST_POLL_SECONDS)
        results += wait_for_results(client, batch_id, deadline)
    return results
