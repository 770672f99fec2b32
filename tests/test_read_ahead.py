"""Reading pages ahead while the caller works (``read_ahead``), fetching them with
several clients (``prefetch_pages``), the client's request count, and the
sandbox's seeding over time; the member walk itself is tested in
test_client_member_walk.py."""

import threading
import time

import pytest
import requests

from mailchimp_utils import mailchimp_errors as errors
from mailchimp_utils.mailchimp_client import MailchimpClient
from mailchimp_utils.read_ahead import prefetch_pages, read_ahead

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

LIST = "/lists/{}/members"


@pytest.fixture()
def audience(sandbox):
    from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

    def seed(count, **kwargs):
        sandbox.state.seed(DEFAULT_LIST_ID, count, **kwargs)

    client = MailchimpClient(DEFAULT_API_KEY, base_url=sandbox.api_url("us1"))
    yield client, LIST.format(DEFAULT_LIST_ID), seed, DEFAULT_LIST_ID
    client.close()


def test_take_request_count_counts_each_request_once(audience):
    client, path, seed, _list = audience
    client.take_request_count()
    client.get(path)
    client.get(path)
    assert client.take_request_count() == 2
    assert client.take_request_count() == 0


# ----------------------------------------------------------------- read ahead
def test_read_ahead_yields_everything_in_order_and_overlaps_the_work():
    produced = []

    def slow_pages():
        for n in range(4):
            time.sleep(0.05)
            produced.append(n)
            yield n

    started = time.perf_counter()
    out = []
    for item in read_ahead(slow_pages()):
        time.sleep(0.05)  # the caller's work on the page
        out.append(item)
    elapsed = time.perf_counter() - started
    assert out == [0, 1, 2, 3]
    # one after the other would take 8 x 50 ms; overlapped about 5 x 50 ms
    assert elapsed < 0.38


def test_read_ahead_raises_the_producers_error_where_it_happened():
    def failing():
        yield 1
        raise errors.MailchimpServerError("boom")

    got = []
    with pytest.raises(errors.MailchimpServerError, match="boom"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1]


def test_read_ahead_stops_and_closes_the_producer_when_the_caller_stops():
    closed = threading.Event()
    produced = []

    def endless():
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    pages = read_ahead(endless(), ahead=1)
    for item in pages:
        if item == 2:
            break
    pages.close()
    assert closed.wait(2)
    assert len(produced) <= 5  # it did not run on


def test_read_ahead_does_not_swallow_the_callers_error():
    def pages():
        yield from range(10)

    with pytest.raises(KeyError):
        for item in read_ahead(pages()):
            if item == 1:
                raise KeyError("caller")


def test_seed_spread_gives_distinct_past_seconds(sandbox, api):
    from mailchimp_sandbox import DEFAULT_LIST_ID

    requests.post(
        sandbox.url + f"/_sandbox/lists/{DEFAULT_LIST_ID}/seed",
        json={"count": 5, "spread_seconds": 50},
        timeout=TIMEOUT,
    ).raise_for_status()
    members = api.get(
        f"/lists/{DEFAULT_LIST_ID}/members",
        params={"sort_field": "last_changed", "sort_dir": "ASC", "count": 1000},
    ).json()["members"]
    stamps = [
        m["last_changed"]
        for m in members
        if m["email_address"].endswith("@seed-mail.com")
    ]
    assert len(stamps) == len(set(stamps)) == 5


def test_read_ahead_thread_names_the_callers_database_for_log_lines():
    caller = threading.current_thread()
    caller.dbname = "mc_db"
    try:

        def pages():
            yield threading.current_thread().dbname

        assert list(read_ahead(pages())) == ["mc_db"]
    finally:
        del caller.dbname


# -- prefetching pages with several clients --------------------------------------


class Client:
    """Records how many calls run at once on it."""

    def __init__(self):
        self.busy = False
        self.overlaps = 0
        self.calls = 0


def fetcher(log, delay=0.01, fail_at=None):
    def fetch(client, offset):
        if client.busy:
            client.overlaps += 1
        client.busy = True
        try:
            time.sleep(delay)
            client.calls += 1
            log.append((threading.current_thread().name, offset))
            if offset == fail_at:
                raise RuntimeError(f"page {offset} failed")
            return {"offset": offset}
        finally:
            client.busy = False

    return fetch


def test_prefetch_yields_in_order_with_clients_never_shared():
    clients = [Client() for _i in range(3)]
    log = []
    pages = list(prefetch_pages(fetcher(log), range(0, 20), clients))
    assert [offset for offset, _page in pages] == list(range(20))
    assert all(page == {"offset": offset} for offset, page in pages)
    assert sum(c.calls for c in clients) == 20
    assert all(c.overlaps == 0 for c in clients)
    assert all(name.startswith("mailchimp-prefetch") for name, _offset in log)


def test_prefetch_reads_ahead_in_parallel():
    clients = [Client() for _i in range(4)]
    started = time.monotonic()
    assert len(list(prefetch_pages(fetcher([], delay=0.05), range(8), clients))) == 8
    # 8 calls of 50 ms each, 4 at a time
    assert time.monotonic() - started < 0.3


def test_prefetch_raises_in_page_order_after_earlier_pages():
    clients = [Client() for _i in range(3)]
    seen = []
    with pytest.raises(RuntimeError, match="page 4 failed"):
        for offset, _page in prefetch_pages(fetcher([], fail_at=4), range(10), clients):
            seen.append(offset)
    assert seen == [0, 1, 2, 3]


def test_prefetch_stays_bounded_and_stops_when_the_consumer_stops():
    clients = [Client() for _i in range(2)]
    asked = []

    def offsets():
        for offset in range(1000):
            asked.append(offset)
            yield offset

    for offset, _page in prefetch_pages(
        fetcher([], delay=0), offsets(), clients, ahead=3
    ):
        assert len(asked) <= offset + 1 + 3
        if offset == 5:
            break
    assert len(asked) <= 9
    assert sum(c.calls for c in clients) <= 9


def test_prefetch_needs_a_client():
    with pytest.raises(ValueError):
        list(prefetch_pages(fetcher([]), range(3), []))
