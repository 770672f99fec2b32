"""HTTP client for the Mailchimp Marketing API v3.0 (plain Python, no Odoo).

Everything the sync needs from the wire lives here: one pooled session capped
at Mailchimp's 10 simultaneous connections, an explicit timeout on every call,
retries with exponential backoff and full jitter for throttling, 5xx and
network failures for up to a time budget whatever the number of attempts,
typed exceptions from the
problem+json body, offset paging, batch subscribe and ``/batches``.  The API
key never appears in a log line, an exception or a URL.
"""

import json as jsonlib
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from .mailchimp_batches import (
    BATCH_DONE_STATUSES,
    BATCH_SUBSCRIBE_MAX,
    BatchSubscribeResult,
    batch_operation,
    chunked,
    parse_batch_results,
    query_param_value,
)
from .mailchimp_errors import (
    MailchimpConfigError,
    MailchimpError,
    MailchimpNetworkError,
    MailchimpServerError,
    MailchimpTimeoutError,
    error_class_for,
)
from .mailchimp_keys import basic_auth_token, parse_api_key, redact
from .read_ahead import prefetch_pages

_logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://{dc}.api.mailchimp.com/3.0"
# Mailchimp answers 429 beyond 10 simultaneous connections per user
MAX_CONNECTIONS = 10
MAX_PAGE_SIZE = 1000  # Mailchimp's maximum `count`
# a member walk asks each page from this many items before the end of the previous one
# (plus the last one), to find its place again when members before it changed meanwhile
WALK_OVERLAP = 10
# walks started again from their last second when the listing moved more than that
WALK_MAX_RESTARTS = 10
AUTH_USERNAME = "anystring"  # Basic auth ignores the user name; the key is the password
# Methods that can be re-sent when it is unknown
# whether the first attempt reached Mailchimp.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
# Gateway errors after which Mailchimp may still have processed the request.
OUTCOME_UNKNOWN_STATUSES = frozenset({502, 504})


class _NoAuth(AuthBase):
    """Send no credentials at all (and skip ~/.netrc): for pre-signed download links."""

    def __call__(self, request):
        request.headers.pop("Authorization", None)
        return request


class MailchimpClient:
    """A Mailchimp Marketing API client bound to one API key.

    ``base_url`` may contain ``{dc}``, replaced by the key's data center
    (default ``https://{dc}.api.mailchimp.com/3.0``).  ``timeout`` is the
    requests ``(connect, read)`` timeout sent with every call.  A call is
    retried (429, 5xx, network errors) for up to ``max_retry_seconds`` after
    its first attempt started, however many attempts that takes; the last
    backoff wait is cut to what is left, and a ``Retry-After`` that does not
    fit ends the retries at once.  ``max_retries`` (default None: no cap)
    additionally caps the re-sends, for callers that must answer quickly.
    ``retry_network_errors=False`` re-sends nothing after a failed connection or
    a timeout (Connect: a wrong or unreachable host is said at once; answers
    such as 429 and 5xx are still retried).
    ``sleep``, ``clock`` and ``random`` are attributes so tests can replace them.

    When ``session`` is given it is used as is (its adapters, pool size and
    lifetime stay the caller's business); otherwise the client owns a session
    whose pool blocks at ``max_connections`` (at most 10).
    """

    def __init__(
        self,
        api_key,
        base_url=None,
        timeout=(5, 120),
        max_connections=10,
        max_retries=None,
        max_retry_seconds=60,
        retry_network_errors=True,
        backoff_base=0.5,
        backoff_max=30,
        session=None,
        user_agent="odoo-mailchimp-connector/18.0",
    ):
        self.dc = parse_api_key(api_key)
        api_key = api_key.strip()
        self._auth = (AUTH_USERNAME, api_key)
        self._secrets = (api_key, basic_auth_token(AUTH_USERNAME, api_key))
        self.base_url = self._build_base_url(base_url or DEFAULT_BASE_URL)
        try:
            max_connections = int(max_connections)
        except (TypeError, ValueError):
            max_connections = 0
        if max_connections < 1:
            raise MailchimpConfigError(
                "max_connections must be a whole number of at least 1."
            )
        self.max_connections = min(max_connections, MAX_CONNECTIONS)
        self.timeout = timeout
        self.max_retries = None if max_retries is None else max(0, int(max_retries))
        self.max_retry_seconds = float(max_retry_seconds)
        self.retry_network_errors = bool(retry_network_errors)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.user_agent = user_agent
        self.sleep = time.sleep
        self.clock = time.monotonic
        self.random = random.Random()  # jitter, not cryptography
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(
                pool_connections=1,
                pool_maxsize=self.max_connections,
                pool_block=True,
                max_retries=0,
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session
        # every request sent, retries included (thread-safe: pages may be read ahead)
        self.requests_sent = 0
        self._requests_untaken = 0
        self._count_lock = threading.Lock()

    def __repr__(self):
        return f"<MailchimpClient dc={self.dc} base_url={self.base_url}>"

    # -- lifecycle ---------------------------------------------------------

    def close(self):
        """Release pooled connections (only those of a session the client created)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- core --------------------------------------------------------------

    def request(
        self, method, path, params=None, json=None, expected=(200, 204), idempotent=None
    ):
        """Call the API and return the parsed JSON body (None for an empty answer).

        Raises a MailchimpError subclass when the final status is not in
        ``expected``.  ``idempotent`` (default: by method) says whether the
        call may be re-sent after a failure that leaves its outcome unknown
        (read timeout, dropped connection, 502/504); POST is not, so a slow
        ``POST /batches`` is never submitted twice.
        """
        return self._call(method, path, params, json, expected, idempotent)[0]

    def _call(
        self, method, path, params=None, json=None, expected=(200, 204), idempotent=None
    ):
        """``request``, returning ``(parsed body, final response)``."""
        method = method.upper()
        url = self._url(path)
        log_path = urlsplit(url).path
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        data = None
        if json is not None:
            data = jsonlib.dumps(json).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        response, attempts = self._send(
            method,
            url,
            log_path,
            params=_query(params),
            data=data,
            headers=headers,
            auth=self._auth,
            idempotent=idempotent,
        )
        if response.status_code not in expected:
            error = self._error_from_response(response, method, log_path, attempts)
            _logger.info("Mailchimp %s %s failed: %s", method, log_path, error)
            raise error
        if not response.content or not response.content.strip():
            return None, response
        try:
            return response.json(), response
        except ValueError:
            raise MailchimpError(
                "Mailchimp answered with a body that is not JSON.",
                status=response.status_code,
                method=method,
                path=log_path,
                attempts=attempts,
            ) from None

    def get(self, path, params=None, **kwargs):
        return self.request("GET", path, params=params, **kwargs)

    def post(self, path, json=None, params=None, **kwargs):
        return self.request("POST", path, params=params, json=json, **kwargs)

    def put(self, path, json=None, params=None, **kwargs):
        return self.request("PUT", path, params=params, json=json, **kwargs)

    def patch(self, path, json=None, params=None, **kwargs):
        return self.request("PATCH", path, params=params, json=json, **kwargs)

    def delete(self, path, params=None, **kwargs):
        return self.request("DELETE", path, params=params, **kwargs)

    def take_request_count(self):
        """The requests sent since the last call:
        for callers that record them in chunks."""
        with self._count_lock:
            count, self._requests_untaken = self._requests_untaken, 0
        return count

    def ping(self):
        """``GET /ping``: checks key and reachability,
        returns ``{"health_status": ...}``."""
        return self.get("/ping")

    def account(self):
        """``GET /``: the account's details (account_id, account_name, email...)."""
        return self.get("/")

    # -- paging ------------------------------------------------------------

    def paginate(
        self,
        path,
        items_key,
        params=None,
        count=MAX_PAGE_SIZE,
        fields=None,
        exclude_fields=None,
    ):
        """Yield every item of a paged collection, walking ``offset`` by ``count``.

        ``fields``/``exclude_fields`` are item-level (``["id", "email_address"]``)
        and are prefixed with ``items_key``; ``total_items`` is always kept
        because it tells when to stop.  Stops at ``total_items`` or on a short page.
        """
        query = dict(params or {})
        offset = int(query.pop("offset", 0) or 0)
        query.update(_fields_query(items_key, fields, exclude_fields))
        for page in self._offset_pages(path, items_key, query, _size(count), offset):
            yield from page

    def pages(self, path, items_key, params=None, count=MAX_PAGE_SIZE, fields=None):
        """Yield a collection page by page (lists of items), walking ``offset``.

        For collections that only grow at their end while they are read (sent
        campaigns by send time, a campaign's reports); members are read with
        ``pages_since``, whose walk cannot skip an item that changes meanwhile (a
        member changed during an offset walk moves to the end of the listing).
        """
        query = dict(params or {})
        query.update(_fields_query(items_key, fields))
        for page in self._offset_pages(path, items_key, query, _size(count)):
            if page:
                yield page

    def pages_ahead(
        self,
        path,
        items_key,
        prepare,
        params=None,
        offset=0,
        count=MAX_PAGE_SIZE,
        clients=None,
    ):
        """Yield ``(PagePosition, prepare(items))`` for the pages of a collection
        from ``offset`` to its end, in order, while the next pages are read ahead.

        This client reads the first page; then ``clients`` (default: this one
        alone) read the pages ``total_items`` announces, each in a thread of its
        own with its own client (a session is never shared between threads), and
        ``prepare`` runs in the thread that read the page, so that the caller
        only stores what it made.  A listing that grew meanwhile is read on from
        where the walk got to.  A page without ``total_items`` counts as the end:
        the walk cannot know how far to read ahead.  For collections that only
        grow at their end (a campaign's recipients and email activity).
        """
        count = _size(count)
        query = dict(params or {})
        clients = list(clients or [self])

        def fetch(client, start):
            page = client._get_page(path, items_key, query, count, start)
            position = PagePosition(start, count, len(page), page.position.total or 0)
            return position, prepare(page)

        while True:
            for position, prepared in self._walk_ahead(fetch, offset, count, clients):
                yield position, prepared
                if position.last:
                    return
            offset = position.end

    def _walk_ahead(self, fetch, offset, count, clients):
        """One pass of ``pages_ahead``: its first page, then the pages up to the
        largest ``total_items`` seen, read ahead; stops after a short page."""
        first = fetch(clients[0], offset)
        yield first
        if first[0].received < count:
            return
        total = [first[0].total]

        def offsets():
            following = offset + count
            while following < total[0]:
                yield following
                following += count

        for _start, page in prefetch_pages(fetch, offsets(), clients):
            total[0] = max(total[0], page[0].total)
            yield page
            if page[0].received < count:
                return

    def _offset_pages(self, path, items_key, query, count, offset=0, overlap=0):
        """The offset walk every listing uses: yield ``Page`` lists from ``offset``
        until a short page or ``total_items``, each with its ``position`` and
        ``server_time``. Each page after the first is asked from ``overlap`` items
        before the end of the previous one (``pages_since`` re-reads a few to find
        its place again)."""
        start = offset
        while True:
            page = self._get_page(path, items_key, query, count, start)
            yield page
            if page.position.last:
                return
            start = max(0, page.position.end - overlap)

    def _get_page(self, path, items_key, query, count, offset):
        """One page of a listing: ``count`` items from ``offset``, as a ``Page``."""
        body, response = self._call(
            "GET", path, params={**query, "count": count, "offset": offset}
        )
        body = body or {}
        page = Page(body.get(items_key) or [])
        page.server_time = _server_time(response)
        page.position = PagePosition(offset, count, len(page), body.get("total_items"))
        return page

    def pages_since(
        self,
        path,
        items_key,
        params=None,
        since=None,
        count=MAX_PAGE_SIZE,
        fields=None,
        key="last_changed",
        since_param="since_last_changed",
        inclusive=False,
        overlap=WALK_OVERLAP,
        max_restarts=WALK_MAX_RESTARTS,
    ):
        """Yield, page by page and in ascending ``key`` order, every item whose
        ``key`` falls in the second ``since`` or later (every item without ``since``).

        Timestamps are to the second and Mailchimp's reference says ``since_param``
        keeps what changed "after" it: whether an item of that very second is kept
        is not documented. So the walk asks from the second before ``since``
        (exactly right if the filter is exclusive) and drops what is older, unless
        ``inclusive`` says the filter was seen keeping its own second (then it asks
        from ``since``). A page whose items include one of the second asked from
        proves it inclusive: ``page.since_inclusive`` is then True, for the caller
        to remember.

        It pages by offset with an ``overlap`` and starts again when the listing
        moved under it, at most ``max_restarts`` times (see ``_SinceWalk``); an
        item is never yielded twice with the same ``key``.

        Pages are ``Page`` lists: ``server_time`` is when Mailchimp answered (its
        ``Date`` header, aware UTC, None if absent); the first page is yielded even
        when empty, so callers always learn when the walk started. The last page
        (possibly empty) has ``complete``: True when the walk reached the end of the
        listing and saw as many positions as its ``total_items``, False when the
        listing served fewer than it counted or kept changing past
        ``max_restarts`` (``None`` on the other pages).
        """
        count = max(2, min(int(count), MAX_PAGE_SIZE))
        query = dict(params or {}, sort_field=key, sort_dir="ASC")
        if fields:
            wanted = list(fields) + [name for name in ("id", key) if name not in fields]
            query["fields"] = ",".join(_prefixed(items_key, wanted) + ["total_items"])
        # overlap + 1 items re-read per page: small next to a page
        walk = _SinceWalk(since, inclusive, min(max(0, int(overlap)), (count - 2) // 4))
        while True:  # one pass (one since) per listing; a restart starts a new one
            if walk.first_second is not None:
                query[since_param] = _iso_second(walk.asked_from())
            moved = yield from self._since_pass(
                path, items_key, query, count, key, walk
            )
            if moved is None:
                return
            # the listing moved more than the overlap shows: again from the
            # second of the last item read, without what was yielded already
            walk.restarts += 1
            if walk.restarts > max_restarts:
                yield _gave_up(path, moved, max_restarts)
                return
            walk.restart(max_slack=(count - 2) // 4)

    def _since_pass(self, path, items_key, query, count, key, walk):
        """One pass of ``pages_since`` over the listing ``query`` asks for: yield
        its new items page by page; return the listing's page where the walk lost
        its place (None when it reached the end)."""
        walk.tail = []
        asked_second = walk.asked_second()
        listings = self._offset_pages(
            path, items_key, query, count, overlap=walk.slack + 1
        )
        for listing in listings:
            keys = [(item.get("id"), item.get(key)) for item in listing]
            fresh_from = 0
            if walk.tail:
                found = _newest_present(walk.tail, keys)
                if found is None:
                    return listing
                fresh_from = found + 1
            page = Page()
            page.server_time = listing.server_time
            page.total = listing.position.total
            _add_new_items(
                page,
                listing[fresh_from:],
                keys[fresh_from:],
                walk.tail,
                walk.newest,
                key=key,
                path=path,
                first_second=walk.first_second,
                asked_second=asked_second,
            )
            walk.learned = walk.learned or page.since_inclusive
            walk.tail = keys[-(walk.slack + 1) :]
            position = listing.position
            if position.last:
                page.complete = position.total is None or position.end >= position.total
            if page or walk.first or position.last:
                yield page
            walk.first = False
        return None

    # -- bulk --------------------------------------------------------------

    def batch_subscribe(
        self, list_id, members, update_existing=True, skip_merge_validation=False
    ):
        """Add or update members of an audience, 500 per call (``POST /lists/{id}``).

        Mailchimp answers 200 even when some members were refused: read
        ``result.errors``.  If a chunk fails outright, the raised error carries
        ``partial_result`` with what the earlier chunks did.
        """
        result = BatchSubscribeResult()
        params = {"skip_merge_validation": True} if skip_merge_validation else None
        for chunk in chunked(members, BATCH_SUBSCRIBE_MAX):
            body = {"members": chunk, "update_existing": bool(update_existing)}
            try:
                # With update_existing the call is an upsert, so re-sending it is safe.
                response = self.post(
                    f"/lists/{list_id}",
                    json=body,
                    params=params,
                    idempotent=update_existing,
                )
            except MailchimpError as error:
                error.partial_result = result
                raise
            result.add_response(response)
        return result

    def submit_batch(self, operations):
        """Start an asynchronous ``/batches`` job and return its id.

        Each operation is a dict with ``method``, ``path`` and optional
        ``params``, ``body`` (a dict is JSON-encoded into the string the API
        requires) and ``operation_id``.
        """
        payload = [
            batch_operation(
                op["method"],
                op["path"],
                op.get("params"),
                op.get("body"),
                op.get("operation_id"),
            )
            for op in operations
        ]
        if not payload:
            raise ValueError("A batch needs at least one operation.")
        return self.post("/batches", json={"operations": payload})["id"]

    def get_batch(self, batch_id):
        """``GET /batches/{id}``: status, counters and ``response_body_url``."""
        return self.get(f"/batches/{batch_id}")

    def wait_for_batch(
        self, batch_id, poll_interval=2, timeout=600, max_poll_interval=None
    ):
        """Poll a batch until it is finished and return it.

        With ``max_poll_interval`` the wait doubles after each poll up to that
        many seconds: a job of thousands of operations is not polled every
        second for minutes. Raises MailchimpTimeoutError (with the last seen
        state in ``.batch``) when it is still running after ``timeout`` seconds.
        """
        started = self.clock()
        while True:
            batch = self.get_batch(batch_id)
            status = batch.get("status")
            if status in BATCH_DONE_STATUSES:
                return batch
            if self.clock() - started + poll_interval > timeout:
                error = MailchimpTimeoutError(
                    f"Batch {batch_id} is still {status} after {timeout}s "
                    f"({batch.get('finished_operations')} of "
                    f"{batch.get('total_operations')} operations finished).",
                    method="GET",
                    path=f"/batches/{batch_id}",
                )
                error.batch = batch
                raise error
            _logger.debug(
                "Mailchimp batch %s is %s; polling again in %ss",
                batch_id,
                status,
                poll_interval,
            )
            self.sleep(poll_interval)
            if max_poll_interval:
                poll_interval = min(poll_interval * 2, max_poll_interval)

    def batch_results(self, batch):
        """Download and parse a finished batch's results.

        ``batch`` is the dict from get_batch/wait_for_batch (or its id).
        Returns ``[{status_code, operation_id, response}]``.  The results link
        is pre-signed, so no credentials are sent to it.
        """
        if not isinstance(batch, dict):
            batch = self.get_batch(batch)
        url = batch.get("response_body_url")
        if not url:
            raise MailchimpError(
                "Batch {} has no results to download yet (status {}).".format(
                    batch.get("id"), batch.get("status")
                )
            )
        response, attempts = self._send(
            "GET",
            url,
            "batch {} results".format(batch.get("id")),
            headers={"User-Agent": self.user_agent},
            auth=_NoAuth(),
            idempotent=True,
        )
        if response.status_code != 200:
            error_class = (
                MailchimpServerError if response.status_code >= 500 else MailchimpError
            )
            raise error_class(
                "Could not download the results of batch {}; the link may have "
                "expired, read the batch again to get a fresh "
                "one.".format(batch.get("id")),
                status=response.status_code,
                attempts=attempts,
            )
        return parse_batch_results(response.content)

    # -- internals ---------------------------------------------------------

    def _build_base_url(self, base_url):
        url = str(base_url).strip().replace("{dc}", self.dc)
        parts = urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
        ):
            raise MailchimpConfigError(
                f"The Mailchimp API address {self._redact(url)!r} is not a valid "
                "http(s) URL such as https://us6.api.mailchimp.com/3.0."
            )
        return url.rstrip("/")

    def _url(self, path):
        if str(path).startswith(("http://", "https://")):
            # Absolute links (e.g. `_links.href`) are
            # only followed on the API's own host.
            if path != self.base_url and not path.startswith(self.base_url + "/"):
                raise ValueError(
                    "Refusing to send the Mailchimp credentials outside "
                    f"{self.base_url}."
                )
            return path
        return "{}/{}".format(self.base_url, str(path).lstrip("/"))

    def _redact(self, text):
        return redact(text, *self._secrets)

    def _send(
        self,
        method,
        url,
        log_path,
        *,
        params=None,
        data=None,
        headers=None,
        auth=None,
        idempotent=True,
    ):
        """Send with retries; return ``(final response, attempts)``.

        The final response may be an error status for the caller to map;
        network failures raise MailchimpNetworkError/MailchimpTimeoutError.
        """
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            sent_at = self.clock()
            with self._count_lock:
                self.requests_sent += 1
                self._requests_untaken += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    auth=auth,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                delay = self._delay_after_exception(
                    exc, method, url, log_path, attempt, started, idempotent
                )
            else:
                _logger.debug(
                    "Mailchimp %s %s -> %s in %.3fs (attempt %d)",
                    method,
                    log_path,
                    response.status_code,
                    self.clock() - sent_at,
                    attempt,
                )
                delay = self._delay_after_status(
                    response, method, log_path, attempt, started, idempotent
                )
                if delay is None:
                    return response, attempt
            self.sleep(delay)

    def _delay_after_exception(
        self, exc, method, url, log_path, attempt, started, idempotent
    ):
        """How long to wait before re-sending after ``exc`` (a requests
        exception), or raise its MailchimpError when it must not be re-sent."""
        error_class, may_have_arrived = _classify_exception(exc)
        reason = type(exc).__name__
        detail = self._redact(f"{reason}: {exc}")
        query = urlsplit(url).query
        if query:  # a pre-signed results link carries its signature in the query
            detail = detail.replace(query, "...")
        if error_class is MailchimpError:
            _logger.warning(
                "Mailchimp %s %s failed: %s; not retryable",
                method,
                log_path,
                reason,
            )
            raise error_class(
                detail, method=method, path=log_path, attempts=attempt
            ) from None
        if not self.retry_network_errors:
            _logger.info(
                "Mailchimp %s %s failed: %s; not retried (connection check)",
                method,
                log_path,
                reason,
            )
            raise error_class(
                detail, method=method, path=log_path, attempts=attempt
            ) from None
        if may_have_arrived and not idempotent:
            _logger.warning(
                "Mailchimp %s %s failed: %s; not re-sent",
                method,
                log_path,
                reason,
            )
            detail += (
                " The request may have reached Mailchimp, so it was not sent "
                f"again ({method} is not idempotent)."
            )
            raise error_class(
                detail, method=method, path=log_path, attempts=attempt
            ) from None
        delay = self._retry_delay(attempt, started)
        if delay is None:
            _logger.warning(
                "Mailchimp %s %s failed: %s; giving up after %d attempt(s) in %.1fs",
                method,
                log_path,
                reason,
                attempt,
                self.clock() - started,
            )
            raise error_class(
                detail, method=method, path=log_path, attempts=attempt
            ) from None
        _logger.warning(
            "Mailchimp %s %s failed: %s; retry %d in %.2fs (%.1fs of %.0fs spent)",
            method,
            log_path,
            reason,
            attempt,
            delay,
            self.clock() - started,
            self.max_retry_seconds,
        )
        return delay

    def _delay_after_status(
        self, response, method, log_path, attempt, started, idempotent
    ):
        """How long to wait before re-sending after ``response``, or None when it
        is the final answer (a success, an error not worth re-sending, or the
        retries used up)."""
        status = response.status_code
        if not _retryable_status(response, idempotent):
            return None
        retry_after = _retry_after(response)
        delay = self._retry_delay(attempt, started, retry_after)
        if delay is None:
            _logger.warning(
                "Mailchimp %s %s -> %s; giving up after %d attempt(s) in %.1fs",
                method,
                log_path,
                status,
                attempt,
                self.clock() - started,
            )
            return None
        _logger.warning(
            "Mailchimp %s %s -> %s; retry %d in %.2fs (%.1fs of %.0fs spent)",
            method,
            log_path,
            status,
            attempt,
            delay,
            self.clock() - started,
            self.max_retry_seconds,
        )
        response.close()
        return delay

    def _retry_delay(self, attempt, started, retry_after=None):
        """Seconds to wait before re-sending, or None when retries are used up.

        The budget is time, not attempts: retries go on until
        ``max_retry_seconds`` after the first attempt started (a storm of
        throttled answers is ridden out however many it takes), unless an
        explicit ``max_retries`` is reached first. Full jitter (uniform between
        0 and the exponential cap) spreads the workers that Mailchimp throttled
        at the same moment, and the last wait is cut to what is left of the
        budget; a Retry-After is honoured as given, and ends the retries when
        it does not fit (waiting less than Mailchimp asked cannot help).
        """
        if self.max_retries is not None and attempt > self.max_retries:
            return None
        left = self.max_retry_seconds - (self.clock() - started)
        if retry_after is not None:
            return retry_after if retry_after <= left else None
        if left <= 0:
            return None
        cap = min(self.backoff_max, self.backoff_base * 2 ** min(attempt - 1, 32))
        return min(self.random.uniform(0, cap), left)

    def _error_from_response(self, response, method, log_path, attempts):
        """Map an HTTP error response (problem+json, HTML or empty) to its exception."""
        status = response.status_code
        body = response.content or b""
        text = body.decode(response.encoding or "utf-8", errors="replace")
        problem = {}
        if text.strip():
            try:
                parsed = jsonlib.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                problem = parsed
        title = problem.get("title") or response.reason or None
        if problem:
            detail = problem.get("detail")
        elif text.strip():
            detail = _describe_non_json(text, response.headers.get("Content-Type"))
        else:
            detail = f"Mailchimp sent an empty HTTP {status} response."
        if status not in range(400, 600):
            detail = " ".join(
                filter(None, [f"Unexpected HTTP {status} response.", detail])
            )
        error_class = error_class_for(
            status, title, problem.get("type"), empty_body=not text.strip()
        )
        errors = [
            {
                "field": self._redact(e.get("field")),
                "message": self._redact(e.get("message")),
            }
            for e in problem.get("errors") or []
            if isinstance(e, dict)
        ]
        return error_class(
            self._redact(detail),
            status=status,
            title=self._redact(title),
            error_type=problem.get("type"),
            instance=problem.get("instance"),
            errors=errors,
            request_id=response.headers.get("X-Request-Id"),
            method=method,
            path=log_path,
            attempts=attempts,
            retry_after=_retry_after(response),
        )


def _query(params):
    if not params:
        return None
    return {
        key: query_param_value(value)
        for key, value in params.items()
        if value is not None
    }


@dataclass(frozen=True)
class PagePosition:
    """Where a page of an offset walk lies: asked for ``count`` items from
    ``offset``, it held ``received``; ``total`` is the listing's ``total_items``
    (None when Mailchimp did not say)."""

    offset: int
    count: int
    received: int
    total: int | None

    @property
    def end(self):
        """The offset after the page: where the next one starts."""
        return self.offset + self.received

    @property
    def last(self):
        """The walk ends here: a short page, or ``total`` reached."""
        return self.received < self.count or (
            self.total is not None and self.end >= self.total
        )


class Page(list):
    """One page of items, with the moment Mailchimp answered (``server_time``),
    where it lies in its listing (``position``) and, for a walk by
    ``pages_since``, what the walk learned (``since_inclusive``, ``complete`` on
    its last page; ``total``: the ``total_items`` of the listing it came from)."""

    server_time = None
    position = None
    total = None
    since_inclusive = False
    complete = None


def _size(count):
    """A page size Mailchimp accepts: 1 to ``MAX_PAGE_SIZE``."""
    return max(1, min(int(count), MAX_PAGE_SIZE))


def _fields_query(items_key, fields=None, exclude_fields=None):
    """``fields``/``exclude_fields`` query values for item-level names; the
    fields always keep ``total_items``, which tells a walk when to stop."""
    query = {}
    if fields:
        query["fields"] = ",".join(_prefixed(items_key, fields) + ["total_items"])
    if exclude_fields:
        excluded = [
            f for f in _prefixed(items_key, exclude_fields) if f != "total_items"
        ]
        query["exclude_fields"] = ",".join(excluded)
    return query


def _epoch_second(value):
    """A time (ISO 8601 with an offset, 'Z' or none = UTC; a datetime; epoch seconds)
    as whole seconds since the epoch, rounded down; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value // 1)
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Python 3.10 has no datetime.UTC
    return int(moment.timestamp() // 1)


def _iso_second(second):
    """Whole epoch seconds as Mailchimp writes times: ``2015-10-21T15:41:36+00:00``."""
    return datetime.fromtimestamp(second, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S+00:00"
    )


def _gave_up(path, moved, max_restarts):
    """The last page of a walk the listing kept moving under: incomplete."""
    _logger.warning(
        "Mailchimp %s kept changing while it was read; stopped after %d restarts",
        path,
        max_restarts,
    )
    page = Page()
    page.server_time, page.complete = moved.server_time, False
    return page


class _SinceWalk:
    """What a walk by ``pages_since`` carries from one pass to the next: the
    second it reads from (``first_second``), whether the filter is known to keep
    that second (``inclusive``, or ``learned`` during the walk), the items it
    re-reads per page (``slack``), the newest second it yielded, the (id, key) of
    the last items received (``tail``), whether a page was yielded yet and how
    many times it started again.

    One walk keeps one ``since`` and pages by offset, each page asked from a
    little before the end of the previous one (the overlap) and checked: the
    newest of those last items found in the answer is where the walk goes on. An
    item changed meanwhile moves to the end of the listing (its new ``key`` is
    now) and is read there again, with its change; members before the walk's
    position that changed shift the rest left, which the overlap absorbs. When
    none of those items is found (more changed than the overlap, or they all
    changed), the walk starts again from the second of the last item read,
    dropping what it already yielded (same id and ``key``).
    """

    __slots__ = (
        "first_second",
        "inclusive",
        "learned",
        "slack",
        "newest",
        "tail",
        "first",
        "restarts",
    )

    def __init__(self, since, inclusive, slack):
        self.first_second = _epoch_second(since)
        self.inclusive = inclusive
        self.learned = False
        self.slack = slack
        self.newest = _NewestSecond()
        self.tail = []
        self.first = True
        self.restarts = 0

    def asked_from(self):
        """The second the filter is given: the one before the walk's first second
        unless the filter is known to keep its own second."""
        return self.first_second if self.inclusive else self.first_second - 1

    def asked_second(self):
        """The second asked from when it is not the walk's own (None otherwise): an
        item of that second proves the filter inclusive."""
        if self.first_second is not None and not self.inclusive:
            return self.first_second - 1
        return None

    def restart(self, max_slack):
        """Start again from the second of the last item read, re-reading more per
        page; the since may change now (a new listing)."""
        last_second = _epoch_second(self.tail[-1][1])
        if self.first_second is None or last_second > self.first_second:
            self.first_second = last_second
        self.slack = min(self.slack * 4 + 1, max_slack)
        self.inclusive = self.inclusive or self.learned


class _NewestSecond:
    """The newest second a walk yielded items of, and the (id, key) it yielded in it."""

    __slots__ = ("second", "keys")

    def __init__(self):
        self.second = None
        self.keys = set()


def _add_new_items(
    page, items, keys, tail, newest, *, key, path, first_second, asked_second
):
    """Append to ``page`` the ``items`` (their (id, key) in ``keys``) that the walk
    has not yielded yet and that are not older than ``first_second``; check that
    they come in ``key`` order. ``newest`` (a ``_NewestSecond``) is kept up to date.
    """
    for item, item_key in zip(items, keys, strict=True):
        if not item_key[1]:
            raise MailchimpError(
                f"Mailchimp listed an item without {key}; cannot page by it.",
                path=path,
            )
        second = _epoch_second(item_key[1])
        if second == asked_second:
            page.since_inclusive = True  # the filter kept the second it was given
        if first_second is not None and second < first_second:
            continue
        if newest.second is not None and second < newest.second:
            raise MailchimpError(
                f"Mailchimp listed items out of {key} order; cannot page by it.",
                path=path,
            )
        if second != newest.second:
            newest.second, newest.keys = second, set()
        if item_key in newest.keys or item_key in tail:
            continue  # read before a restart, or found again after a shift
        newest.keys.add(item_key)
        page.append(item)


def _newest_present(tail, keys):
    """Where in ``keys`` the newest item of ``tail``
    still is (same id and time), or None."""
    where = {item_key: index for index, item_key in enumerate(keys)}
    for item_key in reversed(tail):
        if item_key in where:
            return where[item_key]
    return None


def _server_time(response):
    """The answer's ``Date`` header as an aware UTC datetime, or None."""
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _prefixed(items_key, names):
    prefix = items_key + "."
    return [
        name if name.startswith(prefix) or name == "total_items" else prefix + name
        for name in names
    ]


def _retryable_status(response, idempotent):
    """429, 5xx and a bare 403 (Mailchimp under load) are worth re-sending."""
    status = response.status_code
    if status == 429:
        return True
    if status == 403:
        return not (response.content or b"").strip()
    if status >= 500:
        return idempotent or status not in OUTCOME_UNKNOWN_STATUSES
    return False


def _retry_after(response):
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def _classify_exception(exc):
    """Return (exception class, whether the request may have reached Mailchimp)."""
    if isinstance(exc, requests.ConnectTimeout):
        return MailchimpTimeoutError, False
    if isinstance(exc, requests.Timeout):
        return MailchimpTimeoutError, True
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return MailchimpNetworkError, False
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        not_sent = isinstance(reason, urllib3.exceptions.NewConnectionError)
        return MailchimpNetworkError, not not_sent
    if isinstance(
        exc,
        requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    ):
        return MailchimpNetworkError, True
    # invalid URL, too many redirects...: retrying cannot help
    return (
        MailchimpError,
        True,
    )


def _describe_non_json(text, content_type):
    """A short description of an HTML/text error page (e.g. a CDN's 502)."""
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    summary = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    summary = " ".join(summary.split())[:200]
    kind = (content_type or "non-JSON").split(";")[0]
    return f"Mailchimp answered with a {kind} page instead of JSON: {summary}"
