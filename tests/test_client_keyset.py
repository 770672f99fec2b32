"""Keyset paging of members (``MailchimpClient.pages_since``) and reading ahead,
against the sandbox: every member once, no request spent on overlap, and a
member changed during the walk neither lost nor making the walk lose another."""
import threading
import time

import pytest
import requests

from mailchimp_utils import mailchimp_errors as errors
from mailchimp_utils.mailchimp_client import MailchimpClient
from mailchimp_utils.read_ahead import read_ahead

LIST = "/lists/{}/members"


@pytest.fixture()
def audience(sandbox):
    from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

    def seed(count, **kwargs):
        sandbox.state.seed(DEFAULT_LIST_ID, count, **kwargs)

    client = MailchimpClient(DEFAULT_API_KEY, base_url=sandbox.api_url("us1"))
    yield client, LIST.format(DEFAULT_LIST_ID), seed, DEFAULT_LIST_ID
    client.close()


def _ids(pages):
    return [member["id"] for page in pages for member in page]


def test_keyset_reads_every_member_once_in_change_order(audience):
    client, path, seed, _list = audience
    seed(2500, spread_seconds=3600)
    before = client.requests_sent
    pages = list(client.pages_since(path, "members", fields=["id", "email_address"]))
    assert [len(page) for page in pages] == [1000, 1000, 500]
    assert client.requests_sent - before == 3  # no overlap, no empty last page
    ids = _ids(pages)
    assert len(ids) == len(set(ids)) == 2500
    changes = [member["last_changed"] for page in pages for member in page]
    assert changes == sorted(changes)
    assert all(page.server_time is not None for page in pages)


def test_keyset_pages_through_thousands_changed_in_one_second(audience):
    client, path, seed, _list = audience
    seed(2300)  # one import: every member carries the same second
    pages = list(client.pages_since(path, "members", fields=["id"]))
    ids = _ids(pages)
    assert len(ids) == len(set(ids)) == 2300
    assert len(pages) == 3


def test_keyset_since_is_inclusive_and_the_empty_answer_still_gives_the_time(audience):
    client, path, seed, _list = audience
    seed(10, spread_seconds=100)
    everything = list(client.pages_since(path, "members", fields=["id"]))[0]
    last = everything[-1]["last_changed"]
    again = list(client.pages_since(path, "members", since=last, fields=["id"]))
    assert [m["id"] for m in again[0]] == [everything[-1]["id"]]
    later = list(
        client.pages_since(path, "members", since="2999-01-01T00:00:00+00:00", fields=["id"])
    )
    assert len(later) == 1 and later[0] == [] and later[0].server_time is not None


def test_a_member_changed_during_the_walk_makes_no_other_member_missed(audience, sandbox):
    client, path, seed, list_id = audience
    seed(30, spread_seconds=300)
    first_email = None
    seen = []
    for page in client.pages_since(path, "members", count=10, fields=["id", "email_address"]):
        seen += [member["id"] for member in page]
        if first_email is None:
            # a person changes a member already read: it moves to the end
            first_email = page[0]["email_address"]
            sandbox.state.member_action(list_id, first_email, "profile", merges={"FNAME": "New"})
    assert len(set(seen)) == 30  # nobody skipped
    assert seen.count(seen[0]) == 2  # the changed member read again, with its change

    # plain offset paging over the same change skips a member it never read
    seed(30, start=100, spread_seconds=300)
    offset_seen, offset = [], 0
    query = {"status": "subscribed", "sort_field": "last_changed", "sort_dir": "ASC",
             "since_last_changed": "2000-01-01T00:00:00+00:00", "count": 10}
    total = client.get(path, params={**query, "count": 1})["total_items"]
    changed = False
    while offset < total:
        page = client.get(path, params={**query, "offset": offset})["members"]
        offset_seen += [member["id"] for member in page]
        offset += len(page)
        if not changed:
            sandbox.state.member_action(list_id, page[0]["email_address"], "profile",
                                        merges={"FNAME": "Again"})
            changed = True
    assert len(set(offset_seen)) < total


def test_keyset_refuses_items_without_the_key(audience, monkeypatch):
    client, path, seed, _list = audience
    seed(3)
    real = client._call

    def without_key(*args, **kwargs):
        body, response = real(*args, **kwargs)
        for member in body["members"]:
            member.pop("last_changed", None)
        return body, response

    monkeypatch.setattr(client, "_call", without_key)
    with pytest.raises(errors.MailchimpError, match="last_changed"):
        list(client.pages_since(path, "members", count=1))


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
    ).raise_for_status()
    members = api.get(
        f"/lists/{DEFAULT_LIST_ID}/members",
        params={"sort_field": "last_changed", "sort_dir": "ASC", "count": 1000},
    ).json()["members"]
    stamps = [m["last_changed"] for m in members if m["email_address"].endswith("@seed-mail.com")]
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
