"""Reading pages ahead while the caller works (``read_ahead``), the client's
request count, and the sandbox's seeding over time; the member walk itself is
tested in test_client_member_walk.py."""

import threading
import time

import pytest
import requests

from mailchimp_utils import mailchimp_errors as errors
from mailchimp_utils.mailchimp_client import MailchimpClient
from mailchimp_utils.read_ahead import read_ahead

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
