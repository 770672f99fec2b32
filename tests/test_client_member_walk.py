"""The member walk (``MailchimpClient.pages_since``) and its watermark rule, against
the sandbox under every combination of its behaviour switches: ``since_*``
exclusive or inclusive, archived members listed without ``status=`` or not, one
second's members in change order or by id.

Nothing may be lost and nothing yielded twice with the same ``last_changed``: at
page boundaries, with thousands of members in one second, with members changing
between two pages (already read ones of the current second, the walk's anchor,
more than the overlap), and with a change stamped in the second of the newest
change read, which the next walk must read.
"""

import itertools
import math
import time

import pytest

from mailchimp_utils import mailchimp_errors as errors
from mailchimp_utils.mailchimp_client import WALK_OVERLAP, MailchimpClient
from mailchimp_utils.read_ahead import read_ahead
from mailchimp_utils.sync_rules import first_second_to_read, mark_second

BEHAVIOURS = [
    {"since": since, "archived_listed": listed, "same_second_order": order}
    for since, listed, order in itertools.product(
        ("exclusive", "inclusive"), (False, True), ("change", "id")
    )
]
US = 1_000_000
FIELDS = ["id", "email_address", "status"]


def _name(behaviour):
    return "-".join(
        [
            behaviour["since"],
            "listed" if behaviour["archived_listed"] else "unlisted",
            behaviour["same_second_order"],
        ]
    )


@pytest.fixture(params=BEHAVIOURS, ids=_name)
def mc(request, sandbox):
    """The sandbox under one behaviour, a client,
    and helpers on the default audience."""
    from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

    sandbox.state.set_behaviour(**request.param)
    client = MailchimpClient(DEFAULT_API_KEY, base_url=sandbox.api_url("us1"))

    class Audience:
        behaviour = request.param
        list_id = DEFAULT_LIST_ID
        path = f"/lists/{DEFAULT_LIST_ID}/members"
        state = sandbox.state

        def __init__(self):
            self.client = client

        def seed(self, count, spread_seconds=0, **kwargs):
            """Members changed an hour ago: in one
            second (an import), or one per second."""
            with self.state.lock:
                before = set(self.state.lists[self.list_id].members)
                self.state.seed(
                    self.list_id, count, spread_seconds=spread_seconds, **kwargs
                )
                lst = self.state.lists[self.list_id]
                for member_id, member in lst.members.items():
                    if member_id not in before:
                        member["last_changed"] -= 3600 * US
                lst.touch()

        def listing(self):
            """{id: last_changed} of what a walk without status= lists now."""
            with self.state.lock:
                members = list(self.state.lists[self.list_id].members.values())
            listed = self.behaviour["archived_listed"]
            return {
                m["id"]: _iso(m["last_changed"])
                for m in members
                if listed or m["status"] != "archived"
            }

        def change(self, member_id, n=0):
            with self.state.lock:
                email = self.state.lists[self.list_id].members[member_id]["email"]
            self.state.member_action(
                self.list_id, email, "profile", merges={"FNAME": f"Changed {n}"}
            )

        def archive(self, member_id):
            from mailchimp_sandbox import members

            with (
                self.state.lock
            ):  # as DELETE .../members/{hash} does, without the client
                members.archive_member(
                    self.state, self.state.lists[self.list_id], member_id
                )

        def add(self, email):
            self.state.add_member(self.list_id, email)

        def walk(self, since=None, hook=None, **kwargs):
            """Every page of a walk; ``hook(index, page)`` runs between two pages."""
            pages = []
            before = self.client.requests_sent
            for index, page in enumerate(
                self.client.pages_since(
                    self.path, "members", since=since, fields=FIELDS, **kwargs
                )
            ):
                pages.append(page)
                if hook and page.complete is None:
                    hook(index, page)
            return pages, self.client.requests_sent - before

    yield Audience()
    client.close()


def _iso(ticks):
    from mailchimp_sandbox.clock import iso

    return iso(ticks)


def _keys(pages):
    return [(m["id"], m["last_changed"]) for page in pages for m in page]


def assert_walk_sound(mc, pages, since=None):
    """Nothing yielded twice with the same last_changed, nothing older than ``since``,
    seconds ascending, and nothing of the listing lost: each member as it is now was
    yielded, or (one second's members ordered by id, where a change may land before
    the walk's position) is stamped with a second the next walk reads again."""
    keys = _keys(pages)
    assert len(keys) == len(
        set(keys)
    ), "a member was yielded twice with the same last_changed"
    seconds = [mark_second(lc) for _id, lc in keys]
    assert seconds == sorted(seconds)
    first = mark_second(since)
    if first is not None:
        assert all(second >= first for second in seconds)
    newest = max(seconds) if seconds else first
    next_first = first_second_to_read(
        first, newest, pages[0].server_time, 5, pages[-1].complete
    )
    yielded = set(keys)
    in_change_order = mc.behaviour["same_second_order"] == "change"
    lost = {
        member_id: lc
        for member_id, lc in mc.listing().items()
        if (member_id, lc) not in yielded
        and (first is None or mark_second(lc) >= first)
        and (in_change_order or next_first is None or mark_second(lc) < next_first)
    }
    assert not lost, f"{len(lost)} members lost, e.g. {list(lost.items())[:3]}"
    return keys


def pages_needed(count, page=1000, overlap=WALK_OVERLAP):
    """Requests of a walk over ``count`` members: the first page, then pages that
    overlap the previous one by ``overlap`` + 1 items."""
    if count < page:
        return 1
    return 1 + math.ceil((count - page + 1) / (page - overlap - 1))


# ----------------------------------------------------------------- page boundaries
@pytest.mark.parametrize("size", [1001, 2501])
@pytest.mark.parametrize("spread", [False, True], ids=["one-second", "spread"])
def test_every_member_once_in_change_order(mc, size, spread):
    mc.seed(size, spread_seconds=size if spread else 0)
    mc.seed(3, start=900_000, status="archived")  # listed or not, per the switch
    pages, requests = mc.walk()
    keys = assert_walk_sound(mc, pages)
    expected = size + (3 if mc.behaviour["archived_listed"] else 0)
    assert len({member_id for member_id, _lc in keys}) == len(keys) == expected
    assert pages[-1].complete is True
    assert requests <= pages_needed(expected)
    assert pages[0].server_time is not None


def test_ten_thousand_members_in_one_second(mc):
    mc.seed(10_000)  # one import
    pages, requests = mc.walk()
    keys = assert_walk_sound(mc, pages)
    assert len(keys) == 10_000
    # today's keyset walk took 10 requests; overlapping pages cost one more
    assert requests == pages_needed(10_000) == 11
    assert pages[-1].complete is True
    # the listing's size, as the first page says it (a run's progress total)
    assert pages[0].total == 10_000


def test_the_first_page_counts_what_a_walk_since_a_second_reads(mc):
    mc.seed(30, spread_seconds=30)
    pages, _requests = mc.walk(since=sorted(mc.listing().values())[20])
    assert len(_keys(pages)) == 10
    # Mailchimp's count of the filtered listing (the walk asks from a second
    # earlier when since_last_changed is exclusive: one more member at most)
    assert pages[0].total in (10, 11)


def test_nothing_changed_since_costs_one_request(mc):
    mc.seed(50, spread_seconds=50)
    pages, requests = mc.walk(since="2999-01-01T00:00:00+00:00")
    assert requests == 1
    assert len(pages) == 1 and pages[0] == [] and pages[0].server_time is not None
    assert pages[0].complete is True


def test_the_second_asked_for_is_read_whatever_since_means(mc):
    from mailchimp_sandbox.clock import iso

    base = mark_second("2030-01-01T10:00:00+00:00") * US
    for n, offset in enumerate(
        (-US, 0, 500_000, US)
    ):  # the second before, twice the second, after
        mc.state.add_member(
            mc.list_id, f"s{n}@acme-mail.com", last_changed=base + offset
        )
    since = iso(base)
    pages, _requests = mc.walk(since=since)
    assert sorted(m["email_address"] for m in pages[0]) == [
        "s1@acme-mail.com",
        "s2@acme-mail.com",
        "s3@acme-mail.com",
    ]
    inclusive = mc.behaviour["since"] == "inclusive"
    # asked from the second before: only an inclusive filter shows that second
    assert pages[0].since_inclusive is inclusive
    assert pages[0].complete is True
    if inclusive:
        # once proven, the walk asks from the second itself, and drops nothing
        before = len(mc.state.request_log())
        again, _requests = mc.walk(since=since, inclusive=True)
        assert _keys(again) == _keys(pages)
        assert mc.state.request_log()[before]["query"]["since_last_changed"] == since
        assert again[0].since_inclusive is False


# -------------------------------------------------------------- changes during the walk
SCENARIOS = [
    "read-of-current-second",
    "anchor",
    "more-than-the-overlap",
    "unread",
    "new",
    "archived",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("spread", [False, True], ids=["one-second", "spread"])
def test_members_changing_during_the_walk(mc, scenario, spread):
    mc.seed(1500, spread_seconds=1500 if spread else 0)
    n = itertools.count()
    done, seen = set(), set()

    def hook(index, page):
        seen.update(m["id"] for m in page)
        if not page:
            return
        last_second = mark_second(page[-1]["last_changed"])
        read = [m["id"] for m in page if m["id"] not in done]
        if scenario == "read-of-current-second":
            # an already-read member of the second the walk is in
            same = [
                m["id"] for m in page if mark_second(m["last_changed"]) == last_second
            ]
            targets = [same[len(same) // 2]]
        elif scenario == "anchor":
            targets = [page[-1]["id"]]  # the last item read
        elif scenario == "more-than-the-overlap":
            targets = read[-(3 * WALK_OVERLAP) :]
        elif scenario == "unread":
            targets = [i for i in mc.listing() if i not in seen][-3:]
        elif scenario == "new":
            for _i in range(3):
                mc.add(f"new{next(n)}@acme-mail.com")
            return
        else:
            mc.archive(read[len(read) // 2])
            done.add(read[len(read) // 2])
            return
        for target in targets:
            mc.change(target, next(n))
            done.add(target)

    pages, requests = mc.walk(count=200, hook=hook)
    keys = assert_walk_sound(mc, pages)
    assert pages[-1].complete is True
    # the walk paid at most a few requests for the changes (a restart reads again
    # one second at most: the whole import when every member shares one)
    limit = pages_needed(len(keys), page=200, overlap=min(WALK_OVERLAP, 49)) + 4
    if scenario == "more-than-the-overlap":
        limit += 2 * 1500 // 200
    assert requests <= limit


def test_a_change_in_the_second_of_the_newest_change_read_is_read_next_time(mc):
    mc.state.freeze_clock(True)
    try:
        mc.state.seed(mc.list_id, 1500)  # now, in the frozen second
        first, _requests = mc.walk()
        read_second = mark_second(first[-1][-1]["last_changed"])
        target = first[0][0]["id"]
        mc.change(target)  # stamped with that same second
    finally:
        mc.state.freeze_clock(False)
    changed = mc.listing()[target]
    assert mark_second(changed) == read_second
    since = first_second_to_read(
        None, read_second, first[0].server_time, 5, first[-1].complete
    )
    assert since <= read_second  # not settled: read again
    second, requests = mc.walk(since=since)
    keys = assert_walk_sound(mc, second, since=since)
    assert (target, changed) in keys
    # the members of that second read again are the next run's to skip as unchanged
    assert len(keys) == 1500


def test_a_walk_restarted_too_often_ends_incomplete(mc):
    mc.seed(2000, spread_seconds=2000)
    n = itertools.count()

    def hook(index, page):
        for member in page[: 2 * WALK_OVERLAP + 10]:
            mc.change(member["id"], next(n))

    pages, _requests = mc.walk(count=100, hook=hook, max_restarts=2)
    assert pages[-1].complete is False
    keys = _keys(pages)
    assert len(keys) == len(set(keys))
    newest = max(mark_second(lc) for _id, lc in keys)
    # cut off: the next walk reads again the newest second read, whatever the time
    assert first_second_to_read(None, newest, pages[0].server_time, 5, False) == newest


def test_a_listing_that_serves_fewer_members_than_it_counts_is_incomplete(
    mc, monkeypatch
):
    mc.seed(1200, spread_seconds=1200)
    real = mc.client._call

    def short_of_one(*args, **kwargs):
        body, response = real(*args, **kwargs)
        body["total_items"] += 1
        return body, response

    monkeypatch.setattr(mc.client, "_call", short_of_one)
    pages, _requests = mc.walk()
    assert len(_keys(pages)) == 1200
    assert pages[-1].complete is False


def test_items_without_the_key_are_refused(mc, monkeypatch):
    mc.seed(3)
    real = mc.client._call

    def without_key(*args, **kwargs):
        body, response = real(*args, **kwargs)
        for member in body["members"]:
            member.pop("last_changed", None)
        return body, response

    monkeypatch.setattr(mc.client, "_call", without_key)
    with pytest.raises(errors.MailchimpError, match="last_changed"):
        mc.walk()


def test_the_walk_reads_ahead_and_counts_its_requests(mc):
    mc.seed(2500, spread_seconds=2500)
    before = mc.client.requests_sent
    started = time.perf_counter()
    pages = list(read_ahead(mc.client.pages_since(mc.path, "members", fields=FIELDS)))
    assert time.perf_counter() - started < 30
    assert len(_keys(pages)) == 2500
    assert (
        mc.client.requests_sent - before
        == mc.client.take_request_count()
        == pages_needed(2500)
    )
