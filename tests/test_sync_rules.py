"""Sync decisions without a database (utils/sync_rules.py): F9, F10, F15, F16, F18."""

import dataclasses
import datetime as dt
import itertools
import random

import pytest

from mailchimp_utils.sync_rules import (
    DIRECTIONS,
    MEMBER_STATUSES,
    Resolution,
    can_rename,
    combine,
    first_second_to_read,
    legacy_odoo_base,
    mark_second,
    mark_text,
    new_member_status,
    pick_winners,
    push_blocked_reason,
    push_changes,
    rename_blocked_reason,
    resolve_fields,
    status_to_send,
)

JAN = dt.datetime(2024, 1, 1)


def contact(id_, email, days=0, linked=False):
    return {
        "id": id_,
        "email": email,
        "create_date": JAN + dt.timedelta(days=days),
        "linked": linked,
    }


def _ids(winners, skipped):
    return {email: c["id"] for email, c in winners.items()}, [
        (c["id"], reason) for c, reason in skipped
    ]


# -------------------------------------------------------------------- pick_winners (F9)
def test_one_contact_per_email_is_its_own_winner():
    winners, skipped = pick_winners(
        [contact(1, "a@example.com"), contact(2, "b@example.com")]
    )
    assert _ids(winners, skipped) == ({"a@example.com": 1, "b@example.com": 2}, [])


def test_linked_contact_wins_even_when_newer():
    contacts = [
        contact(1, "jane@example.com", days=0),
        contact(2, "Jane@Example.com ", days=9, linked=True),
    ]
    winners, skipped = pick_winners(contacts)
    assert _ids(winners, skipped) == (
        {"jane@example.com": 2},
        [(1, "duplicate email: contact #2 is synced for it")],
    )


def test_oldest_wins_when_none_is_linked():
    contacts = [
        contact(5, "jane@example.com", days=3),
        contact(9, "JANE@example.com", days=1),
    ]
    winners, skipped = pick_winners(contacts)
    assert _ids(winners, skipped) == (
        {"jane@example.com": 9},
        [(5, "duplicate email: contact #9 is synced for it")],
    )


def test_lowest_id_breaks_a_create_date_tie():
    contacts = [
        contact(12, "jane@example.com"),
        contact(4, "jane@example.com"),
        contact(8, "jane@example.com"),
    ]
    winners, skipped = pick_winners(contacts)
    assert winners["jane@example.com"]["id"] == 4
    assert [c["id"] for c, _reason in skipped] == [8, 12]
    assert {reason for _c, reason in skipped} == {
        "duplicate email: contact #4 is synced for it"
    }


def test_contacts_without_a_usable_email_are_skipped_with_a_reason():
    contacts = [
        contact(1, False),
        contact(2, ""),
        contact(3, "   "),
        contact(4, "not-an-email"),
        contact(5, "jane@example"),
        contact(6, "ok@example.com"),
    ]
    winners, skipped = pick_winners(contacts)
    assert _ids(winners, skipped) == (
        {"ok@example.com": 6},
        [
            (1, "no email address"),
            (2, "no email address"),
            (3, "no email address"),
            (4, "invalid email address"),
            (5, "invalid email address"),
        ],
    )


def test_missing_create_date_sorts_after_known_ones():
    contacts = [
        {"id": 1, "email": "j@example.com", "create_date": None},
        {"id": 2, "email": "j@example.com", "create_date": JAN},
    ]
    assert pick_winners(contacts)[0]["j@example.com"]["id"] == 2


def test_create_dates_as_odoo_strings_compare_as_dates():
    contacts = [
        {"id": 1, "email": "j@example.com", "create_date": "2024-01-02 00:00:00"},
        {"id": 2, "email": "j@example.com", "create_date": "2023-12-31 23:59:59"},
    ]
    assert pick_winners(contacts)[0]["j@example.com"]["id"] == 2


def test_winners_do_not_depend_on_input_order():
    contacts = [
        contact(1, "a@example.com", days=5),
        contact(2, " A@EXAMPLE.COM", days=2),
        contact(3, "a@example.com", days=2),
        contact(4, "b@example.com", days=7, linked=True),
        contact(5, "B@example.com", days=1),
        contact(6, "bad@", days=0),
        contact(7, "c@example.com", days=3),
        contact(8, None),
    ]
    expected = _ids(*pick_winners(contacts))
    assert expected == (
        {"a@example.com": 2, "b@example.com": 4, "c@example.com": 7},
        [
            (1, "duplicate email: contact #2 is synced for it"),
            (3, "duplicate email: contact #2 is synced for it"),
            (5, "duplicate email: contact #4 is synced for it"),
            (6, "invalid email address"),
            (8, "no email address"),
        ],
    )
    rng = random.Random(20240101)
    for _round in range(50):
        shuffled = contacts[:]
        rng.shuffle(shuffled)
        assert _ids(*pick_winners(shuffled)) == expected
    for permutation in itertools.permutations(contacts[:4]):
        assert _ids(*pick_winners(permutation))[0] == {
            "a@example.com": 2,
            "b@example.com": 4,
        }


def test_winners_are_keyed_by_normalised_email():
    winners, _skipped = pick_winners([contact(1, "  Jane.Doe@Example.COM ")])
    assert list(winners) == ["jane.doe@example.com"]


# ------------------------------------------------------------- resolve_fields (F10, F6)
def resolve(synced, odoo, mc, winner="odoo", direction="both", **kw):
    return resolve_fields(synced, odoo, mc, winner, direction, **kw)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("winner", ["odoo", "mailchimp"])
def test_nothing_changed_means_nothing_to_do(direction, winner):
    result = resolve(
        {"FNAME": "Jane"}, {"FNAME": "Jane"}, {"FNAME": "Jane"}, winner, direction
    )
    assert result == Resolution({}, {}, [], {"FNAME": "Jane"})
    assert not result.changed


@pytest.mark.parametrize(
    "direction, expected",
    [
        ("both", Resolution({"FNAME": "Janet"}, {}, [], {"FNAME": "Janet"})),
        ("odoo2mailchimp", Resolution({"FNAME": "Janet"}, {}, [], {"FNAME": "Janet"})),
        ("mailchimp2odoo", Resolution({}, {}, [], {"FNAME": "Jane"})),
    ],
)
def test_changed_only_in_odoo_is_pushed(direction, expected):
    assert (
        resolve(
            {"FNAME": "Jane"},
            {"FNAME": "Janet"},
            {"FNAME": "Jane"},
            direction=direction,
        )
        == expected
    )


@pytest.mark.parametrize(
    "direction, expected",
    [
        ("both", Resolution({}, {"FNAME": "Janet"}, [], {"FNAME": "Janet"})),
        ("mailchimp2odoo", Resolution({}, {"FNAME": "Janet"}, [], {"FNAME": "Janet"})),
        ("odoo2mailchimp", Resolution({}, {}, [], {"FNAME": "Jane"})),
    ],
)
def test_changed_only_in_mailchimp_is_pulled(direction, expected):
    assert (
        resolve(
            {"FNAME": "Jane"},
            {"FNAME": "Jane"},
            {"FNAME": "Janet"},
            direction=direction,
        )
        == expected
    )


@pytest.mark.parametrize(
    "winner, direction, expected",
    [
        (
            "odoo",
            "both",
            Resolution({"LNAME": "Odoo"}, {}, ["LNAME"], {"LNAME": "Odoo"}),
        ),
        (
            "odoo",
            "odoo2mailchimp",
            Resolution({"LNAME": "Odoo"}, {}, ["LNAME"], {"LNAME": "Odoo"}),
        ),
        # Odoo wins but may not push: Odoo keeps its value, Mailchimp keeps its own
        ("odoo", "mailchimp2odoo", Resolution({}, {}, ["LNAME"], {"LNAME": "Mc"})),
        (
            "mailchimp",
            "both",
            Resolution({}, {"LNAME": "Mc"}, ["LNAME"], {"LNAME": "Mc"}),
        ),
        (
            "mailchimp",
            "mailchimp2odoo",
            Resolution({}, {"LNAME": "Mc"}, ["LNAME"], {"LNAME": "Mc"}),
        ),
        (
            "mailchimp",
            "odoo2mailchimp",
            Resolution({}, {}, ["LNAME"], {"LNAME": "Odoo"}),
        ),
    ],
)
def test_changed_on_both_sides_the_winner_takes_it_as_a_conflict(
    winner, direction, expected
):
    assert (
        resolve(
            {"LNAME": "Base"}, {"LNAME": "Odoo"}, {"LNAME": "Mc"}, winner, direction
        )
        == expected
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_both_changed_to_the_same_value_is_no_conflict(direction):
    result = resolve(
        {"LNAME": "Base"}, {"LNAME": "Same"}, {"LNAME": "Same"}, "mailchimp", direction
    )
    assert result == Resolution({}, {}, [], {"LNAME": "Same"})


@pytest.mark.parametrize("synced", [None, {}])
@pytest.mark.parametrize(
    "direction, winner, expected",
    [
        ("both", "odoo", Resolution({"C": "Odoo"}, {}, ["C"], {"C": "Odoo"})),
        ("both", "mailchimp", Resolution({}, {"C": "Mc"}, ["C"], {"C": "Mc"})),
        ("odoo2mailchimp", "odoo", Resolution({"C": "Odoo"}, {}, ["C"], {"C": "Odoo"})),
        ("odoo2mailchimp", "mailchimp", Resolution({}, {}, ["C"], {"C": "Odoo"})),
        (
            "mailchimp2odoo",
            "mailchimp",
            Resolution({}, {"C": "Mc"}, ["C"], {"C": "Mc"}),
        ),
        ("mailchimp2odoo", "odoo", Resolution({}, {}, ["C"], {"C": "Mc"})),
    ],
)
def test_first_sync_with_two_different_values_the_winner_decides(
    synced, direction, winner, expected
):
    # settled by the rule, but no change on both sides since a last sync: a
    # first-sync difference, which a run does not count as a conflict
    expected = dataclasses.replace(expected, first_sync_conflicts=["C"])
    assert resolve(synced, {"C": "Odoo"}, {"C": "Mc"}, winner, direction) == expected


@pytest.mark.parametrize("winner", ["odoo", "mailchimp"])
@pytest.mark.parametrize(
    "direction, expected",
    [
        (
            "both",
            Resolution(
                {"PHONE": "555"},
                {"FNAME": "Jane"},
                [],
                {"FNAME": "Jane", "PHONE": "555"},
            ),
        ),
        (
            "odoo2mailchimp",
            Resolution({"PHONE": "555"}, {}, [], {"FNAME": "", "PHONE": "555"}),
        ),
        (
            "mailchimp2odoo",
            Resolution({}, {"FNAME": "Jane"}, [], {"FNAME": "Jane", "PHONE": ""}),
        ),
    ],
)
def test_first_sync_the_side_with_a_value_fills_the_other(winner, direction, expected):
    odoo = {"FNAME": False, "PHONE": "555"}
    mailchimp = {"FNAME": "Jane", "PHONE": ""}
    assert resolve(None, odoo, mailchimp, winner, direction) == expected


def test_first_sync_with_equal_values_does_nothing():
    result = resolve(
        None, {"FNAME": "Jane", "N": 3.0}, {"FNAME": "Jane", "N": 3}, "mailchimp"
    )
    assert result == Resolution({}, {}, [], {"FNAME": "Jane", "N": 3})


def test_a_tag_missing_from_synced_is_a_first_sync_for_that_tag():
    result = resolve(
        {"FNAME": "Jane"},
        {"FNAME": "Jane", "CITY": "Paris"},
        {"FNAME": "Jane", "CITY": ""},
    )
    assert result == Resolution(
        {"CITY": "Paris"}, {}, [], {"FNAME": "Jane", "CITY": "Paris"}
    )


def test_clearing_a_value_in_odoo_clears_it_in_mailchimp():
    result = resolve({"PHONE": "555"}, {"PHONE": False}, {"PHONE": "555"})
    assert result == Resolution({"PHONE": ""}, {}, [], {"PHONE": ""})


def test_clearing_a_value_in_mailchimp_clears_it_in_odoo():
    result = resolve({"PHONE": "555"}, {"PHONE": "555"}, {"PHONE": ""})
    assert result == Resolution({}, {"PHONE": ""}, [], {"PHONE": ""})


def test_empty_representations_are_equal():
    result = resolve(
        {"A": None, "B": ""}, {"A": False, "B": None}, {"A": "", "B": False}
    )
    assert result == Resolution({}, {}, [], {"A": "", "B": ""})


def test_push_only_tags_are_never_pulled():
    synced = {"TAGS": "VIP", "FNAME": "Jane"}
    odoo = {"TAGS": "VIP", "FNAME": "Jane"}
    mc = {"TAGS": "VIP, Edited", "FNAME": "Janet"}
    result = resolve(synced, odoo, mc, "mailchimp", push_only=("TAGS",))
    assert result == Resolution(
        {}, {"FNAME": "Janet"}, [], {"TAGS": "VIP", "FNAME": "Janet"}
    )


def test_push_only_conflict_won_by_odoo_is_pushed():
    result = resolve(
        {"TAGS": "A"}, {"TAGS": "B"}, {"TAGS": "C"}, "odoo", push_only=["TAGS"]
    )
    assert result == Resolution({"TAGS": "B"}, {}, ["TAGS"], {"TAGS": "B"})


def test_address_and_number_values_compare_by_value():
    address = {
        "addr1": "1 Main St",
        "addr2": "",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30318",
        "country": "US",
    }
    moved = dict(address, addr1="2 Main St")
    result = resolve(
        {"ADDRESS": address, "AGE": 40},
        {"ADDRESS": dict(address), "AGE": 40.0},
        {"ADDRESS": moved, "AGE": 40},
    )
    assert result == Resolution(
        {}, {"ADDRESS": moved}, [], {"ADDRESS": moved, "AGE": 40}
    )


def test_only_the_given_tags_are_resolved():
    result = resolve(
        None, {"FNAME": "Jane"}, {"FNAME": "Jane", "MMERGE7": "x"}, tags=["FNAME"]
    )
    assert result == Resolution({}, {}, [], {"FNAME": "Jane"})


def test_conflicts_are_reported_per_tag():
    synced = {"A": "1", "B": "1", "C": "1"}
    result = resolve(
        synced, {"A": "2", "B": "2", "C": "1"}, {"A": "3", "B": "2", "C": "3"}, "odoo"
    )
    assert result.conflicts == ["A"]
    assert result.first_sync_conflicts == []  # both sides had a base
    assert result.to_mailchimp == {"A": "2"} and result.to_odoo == {"C": "3"}


def test_a_conflict_on_a_side_without_base_is_a_first_sync_one():
    # Mailchimp's base known, Odoo's not (a mapping added on Odoo's side)
    result = two({"T": "a"}, {}, {"T": "x"}, {"T": "b"})
    assert result.conflicts == result.first_sync_conflicts == ["T"]


@pytest.mark.parametrize(
    "winner, direction", [("nobody", "both"), ("odoo", "sideways")]
)
def test_bad_rule_or_direction_is_refused(winner, direction):
    with pytest.raises(ValueError):
        resolve_fields({}, {}, {}, winner, direction)


VALUES = ("", "x", "y", "z")


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("winner", ["odoo", "mailchimp"])
def test_after_applying_a_resolution_the_next_run_is_quiet(direction, winner):
    """Whatever the start, applying the writes
    and storing new_synced settles the field."""
    for base, odoo, mc in itertools.product((None,) + VALUES, VALUES, VALUES):
        synced = {} if base is None else {"T": base}
        first = resolve_fields(synced, {"T": odoo}, {"T": mc}, winner, direction)
        odoo_after = first.to_odoo.get("T", odoo)
        mc_after = first.to_mailchimp.get("T", mc)
        assert direction != "odoo2mailchimp" or not first.to_odoo
        assert direction != "mailchimp2odoo" or not first.to_mailchimp
        second = resolve_fields(
            first.new_synced, {"T": odoo_after}, {"T": mc_after}, winner, direction
        )
        assert (second.to_mailchimp, second.to_odoo, second.conflicts) == (
            {},
            {},
            [],
        ), (base, odoo, mc)
        assert second.new_synced == first.new_synced


# ------------------------------------------------------------------------- status (F16)
@pytest.mark.parametrize(
    "double_opt_in, expected", [(False, "subscribed"), (True, "pending")]
)
def test_new_member_gets_subscribed_or_pending(double_opt_in, expected):
    assert new_member_status(double_opt_in) == expected
    assert status_to_send(None, double_opt_in) == expected
    assert status_to_send("", double_opt_in) == expected


@pytest.mark.parametrize("double_opt_in", [False, True])
def test_an_odoo_opt_out_is_never_subscribed_nor_pending(double_opt_in):
    # a blacklisted contact goes in as unsubscribed (Mailchimp suppresses it)
    assert new_member_status(double_opt_in, opted_out=True) == "unsubscribed"
    assert new_member_status(double_opt_in, opted_out=False) == new_member_status(
        double_opt_in
    )


@pytest.mark.parametrize("status", MEMBER_STATUSES)
@pytest.mark.parametrize("double_opt_in", [False, True])
def test_existing_member_never_gets_a_status(status, double_opt_in):
    assert status_to_send(status, double_opt_in) is None


def test_archived_members_are_not_written_back():
    assert "archived in Mailchimp" in push_blocked_reason("archived")
    for status in (
        "subscribed",
        "unsubscribed",
        "cleaned",
        "pending",
        "transactional",
        None,
    ):
        assert push_blocked_reason(status) is None


# ------------------------------------------------------------------- email change (F18)
def test_only_subscribed_members_can_be_renamed():
    assert can_rename("subscribed") is True
    assert rename_blocked_reason("subscribed") is None
    for status in (
        "unsubscribed",
        "cleaned",
        "pending",
        "transactional",
        "archived",
        None,
    ):
        assert can_rename(status) is False
        reason = rename_blocked_reason(status)
        assert "only changes it for subscribed members" in reason
        assert (status or "not in the audience") in reason


# ---------------------------------------------------------------------- watermark (F15)
S = 1_795_428_005  # 2026-11-23T10:00:05Z, a second as whole epoch seconds


def test_mark_is_a_whole_second_read_as_an_instant_whatever_its_offset():
    assert mark_second("2026-11-23T10:00:05+00:00") == S
    # "12:00" sorts higher, same instant
    assert mark_second("2026-11-23T12:00:05+02:00") == S
    # rounded down: the second it is in
    assert mark_second("2026-11-23T10:00:05.999999Z") == S
    assert mark_second("2026-11-23T10:00:05") == S  # naive = UTC
    assert mark_second(dt.datetime(2026, 11, 23, 10, 0, 5, tzinfo=dt.timezone.utc)) == S
    assert mark_second(None) is None and mark_second("") is None
    assert mark_text(S) == "2026-11-23T10:00:05+00:00"
    assert mark_text(None) is None
    assert mark_second(mark_text(S)) == S


def test_unreadable_stored_mark_is_an_error():
    with pytest.raises(ValueError):
        mark_second("yesterday")


def test_seconds_still_open_when_the_walk_began_are_read_again():
    # the walk began 1.5 s after 10:00:05 ended: with a 5 s margin, a change may
    # still be listed with any second from 10:00:02 on, even one the walk has read
    # (and, in a second's order Mailchimp does not document, before what it read)
    assert first_second_to_read(S - 100, S, "2026-11-23T10:00:06.5+00:00", 5) == S - 4
    # began 5 s after it ended: nothing more can be stamped 10:00:05
    assert first_second_to_read(S - 100, S, "2026-11-23T10:00:11+00:00", 5) == S + 1
    started = dt.datetime(2026, 11, 23, 10, 0, 6, tzinfo=dt.timezone.utc)
    assert first_second_to_read(S - 100, S, started, 0) == S + 1


def test_a_complete_walk_has_seen_every_second_before_its_start_minus_the_margin():
    # nothing read since 10:00:05, the walk began an hour later: the next one
    # starts at 10:59:55, whatever the newest second read
    assert first_second_to_read(S, None, "2026-11-23T11:00:00+00:00", 5) == S + 3590
    assert (
        first_second_to_read(S - 100, S, "2026-11-23T11:00:00.9+00:00", 5) == S + 3590
    )
    # an empty audience read from the beginning
    assert first_second_to_read(None, None, "2026-11-23T10:00:05+00:00", 5) == S - 5


def test_an_incomplete_walk_goes_on_from_the_newest_second_it_read():
    started = "2026-11-23T11:00:00+00:00"
    assert first_second_to_read(S - 100, S, started, 5, complete=False) == S
    assert first_second_to_read(S, None, started, 5, complete=False) == S
    assert first_second_to_read(None, None, started, 5, complete=False) is None
    # or from the first second still open when it began, if that is earlier
    assert (
        first_second_to_read(S - 100, S, "2026-11-23T10:00:03+00:00", 5, complete=False)
        == S - 7
    )


def test_the_mark_never_goes_back_and_nothing_known_is_none():
    assert first_second_to_read(S, S - 1, "2026-11-23T10:00:06+00:00", 5) == S
    assert first_second_to_read(S, None, None, 5) == S  # no time from Mailchimp
    # ... the newest second read again
    assert first_second_to_read(S - 9, S, None, 5) == S
    assert first_second_to_read(None, None, None, 5) is None


def test_to_odoo_datetime_gives_naive_utc():
    from mailchimp_utils.sync_rules import to_odoo_datetime

    assert to_odoo_datetime("2015-10-21T17:41:36+02:00") == dt.datetime(
        2015, 10, 21, 15, 41, 36
    )
    assert to_odoo_datetime("2015-10-21T15:41:36Z") == dt.datetime(
        2015, 10, 21, 15, 41, 36
    )
    assert to_odoo_datetime("") is False
    assert to_odoo_datetime(None) is False


# -------------------------------------------------------------------- two bases
# Where Odoo cannot hold Mailchimp's value exactly, each side has its own base:
# Mailchimp's value as last read or written, Odoo's as it showed it then.
BERLIN = {
    "addr1": "Unter den Linden 1",
    "addr2": "",
    "city": "Berlin",
    "state": "Berlin",
    "zip": "10117",
    "country": "DE",
}
PARIS = {
    "addr1": "1 rue de Rivoli",
    "addr2": "",
    "city": "Paris",
    "state": "Île-de-France",
    "zip": "75001",
    "country": "FR",
}


def two(synced, odoo_synced, odoo, mc, winner="odoo", direction="both", **kw):
    return resolve_fields(
        synced, odoo, mc, winner, direction, odoo_synced=odoo_synced, **kw
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("winner", ["odoo", "mailchimp"])
@pytest.mark.parametrize(
    "mc, odoo",
    [
        (
            {"LNAME": "da Silva", "FNAME": "Françoise"},
            {"LNAME": "Silva", "FNAME": "Françoise da"},
        ),
        ({"COMPANY": "Acme GmbH"}, {"COMPANY": ""}),  # a value Odoo could not keep
        ({"ADDRESS": BERLIN}, {"ADDRESS": dict(BERLIN, state="DE-BE")}),
        ({"ADDRESS": PARIS}, {"ADDRESS": dict(PARIS, state="")}),  # a state Odoo lacks
        ({"AMOUNT": 3.14159}, {"AMOUNT": 3.14}),
        ({"KIND": "invoice"}, {"KIND": "Invoice Address"}),
    ],
)
def test_odoo_form_of_a_pulled_value_is_no_change(mc, odoo, winner, direction):
    result = two(mc, odoo, odoo, mc, winner, direction)
    assert (result.to_mailchimp, result.to_odoo, result.conflicts) == ({}, {}, [])
    assert result.new_synced == mc and result.new_odoo_synced == odoo


def test_each_side_changed_against_its_own_base():
    synced = {"LNAME": "da Silva", "COMPANY": "Acme GmbH"}
    odoo_synced = {"LNAME": "Silva", "COMPANY": ""}
    # Odoo renames: sent, although Mailchimp's value differed from Odoo's before
    result = two(synced, odoo_synced, {"LNAME": "Costa", "COMPANY": ""}, synced)
    assert result.to_mailchimp == {"LNAME": "Costa"} and result.to_odoo == {}
    assert result.new_synced == {"LNAME": "Costa", "COMPANY": "Acme GmbH"}
    assert result.new_odoo_synced == {"LNAME": "Costa", "COMPANY": ""}
    # Mailchimp changes the company: pulled
    result = two(synced, odoo_synced, odoo_synced, dict(synced, COMPANY="Acme AG"))
    assert result.to_odoo == {"COMPANY": "Acme AG"} and result.to_mailchimp == {}
    assert result.new_synced["COMPANY"] == "Acme AG"


@pytest.mark.parametrize(
    "winner, expected_push, expected_pull",
    [("odoo", {"LNAME": "Costa"}, {}), ("mailchimp", {}, {"LNAME": "Souza"})],
)
def test_both_sides_changed_is_a_conflict_the_winner_takes(
    winner, expected_push, expected_pull
):
    result = two(
        {"LNAME": "da Silva"},
        {"LNAME": "Silva"},
        {"LNAME": "Costa"},
        {"LNAME": "Souza"},
        winner,
    )
    assert result.conflicts == ["LNAME"]
    assert (result.to_mailchimp, result.to_odoo) == (expected_push, expected_pull)


def test_an_empty_odoo_value_is_sent_only_when_odoo_emptied_it():
    # Odoo never had it: nothing sent
    result = two(
        {"COMPANY": "Acme GmbH"},
        {"COMPANY": ""},
        {"COMPANY": ""},
        {"COMPANY": "Acme GmbH"},
    )
    assert result.to_mailchimp == {}
    # Odoo had it and cleared it: sent empty
    result = two(
        {"COMPANY": "Acme GmbH"},
        {"COMPANY": "Acme"},
        {"COMPANY": ""},
        {"COMPANY": "Acme GmbH"},
    )
    assert result.to_mailchimp == {"COMPANY": ""}


def test_address_sent_for_one_part_keeps_mailchimps_other_parts():
    odoo_base = dict(PARIS, state="")
    moved = dict(odoo_base, addr1="2 rue de Rivoli")
    result = two(
        {"ADDRESS": PARIS},
        {"ADDRESS": odoo_base},
        {"ADDRESS": moved},
        {"ADDRESS": PARIS},
    )
    assert result.to_mailchimp == {"ADDRESS": dict(PARIS, addr1="2 rue de Rivoli")}
    assert result.new_odoo_synced == {"ADDRESS": moved}
    # a state Odoo writes otherwise ('DE-BE'): Mailchimp's 'Berlin' stays
    odoo_base = dict(BERLIN, state="DE-BE")
    result = two(
        {"ADDRESS": BERLIN},
        {"ADDRESS": odoo_base},
        {"ADDRESS": dict(odoo_base, zip="10115")},
        {"ADDRESS": BERLIN},
    )
    assert result.to_mailchimp == {"ADDRESS": dict(BERLIN, zip="10115")}


def test_address_conflict_won_by_odoo_keeps_mailchimps_parts_odoo_did_not_change():
    mc_now = dict(PARIS, city="Lyon")
    odoo_now = dict(PARIS, addr1="2 rue de Rivoli")
    result = two(
        {"ADDRESS": PARIS},
        {"ADDRESS": PARIS},
        {"ADDRESS": odoo_now},
        {"ADDRESS": mc_now},
        "odoo",
    )
    assert result.conflicts == ["ADDRESS"]
    assert result.to_mailchimp == {
        "ADDRESS": dict(PARIS, addr1="2 rue de Rivoli", city="Lyon")
    }


def test_value_that_may_not_move_keeps_each_sides_own_base():
    result = two(
        {"T": "a"}, {"T": "a"}, {"T": "a"}, {"T": "b"}, direction="odoo2mailchimp"
    )
    assert (result.to_mailchimp, result.to_odoo) == ({}, {})
    assert (result.new_synced, result.new_odoo_synced) == ({"T": "b"}, {"T": "a"})
    # a later change in Odoo goes without a conflict
    later = two(
        result.new_synced,
        result.new_odoo_synced,
        {"T": "c"},
        {"T": "b"},
        direction="odoo2mailchimp",
    )
    assert (later.to_mailchimp, later.conflicts) == ({"T": "c"}, [])


def test_missing_odoo_base_is_a_first_sync_of_odoos_side_only():
    # Mailchimp's base known, Odoo's not (a pull Odoo refused): Odoo's value counts
    result = two({"T": "a"}, {}, {"T": "x"}, {"T": "a"})
    assert result.to_mailchimp == {"T": "x"}
    result = two({"T": "a"}, {}, {"T": ""}, {"T": "a"})
    assert (result.to_mailchimp, result.to_odoo) == ({}, {})


def test_legacy_odoo_base():
    synced = {"COMPANY": "Acme GmbH", "LNAME": "da Silva", "PHONE": "1"}
    odoo_now = {"COMPANY": "", "LNAME": "Silva", "PHONE": "1"}
    assert legacy_odoo_base(synced, odoo_now) == {
        "COMPANY": "",
        "LNAME": "da Silva",
        "PHONE": "1",
    }
    assert legacy_odoo_base(None, odoo_now) == {}
    # per part of an address: the state Odoo lacks is not a change, the street is
    odoo_address = dict(PARIS, state="", addr1="2 rue de Rivoli")
    base = legacy_odoo_base({"ADDRESS": PARIS}, {"ADDRESS": odoo_address})
    assert base == {"ADDRESS": dict(PARIS, state="")}
    assert push_changes({"ADDRESS": odoo_address}, base, {"ADDRESS": PARIS}) == {
        "ADDRESS": dict(PARIS, addr1="2 rue de Rivoli")
    }
    # an empty Odoo value where the old base has one is not sent; another difference is
    result = two(synced, legacy_odoo_base(synced, odoo_now), odoo_now, synced)
    assert result.to_mailchimp == {"LNAME": "Silva"}


def test_combine():
    assert combine("x", "y", "z") == "x"
    assert combine("", {"a": "1"}, {"a": "2"}) == ""
    assert combine({"a": "1", "b": ""}, {"a": "0", "b": ""}, {"a": "9", "b": "B"}) == {
        "a": "1",
        "b": "B",
    }
    assert combine({"a": "1", "b": ""}, "", "") == {"a": "1", "b": ""}
    assert combine({"a": "1", "b": ""}, None, {"b": "B"}) == {"a": "1", "b": "B"}


def test_push_changes():
    synced = {"LNAME": "da Silva", "ADDRESS": PARIS, "PHONE": "1"}
    odoo_synced = {"LNAME": "Silva", "ADDRESS": dict(PARIS, state=""), "PHONE": "1"}
    odoo_now = {
        "LNAME": "Silva",
        "ADDRESS": dict(PARIS, state="", zip="75002"),
        "PHONE": "2",
        "NEW": "n",
    }
    assert push_changes(odoo_now, odoo_synced, synced) == {
        "ADDRESS": dict(PARIS, zip="75002"),
        "PHONE": "2",
        "NEW": "n",
    }
    assert push_changes(odoo_synced, odoo_synced, synced) == {}
    # one shared base (None): Odoo's own form of Mailchimp's value is a change
    assert push_changes(odoo_synced, None, synced) == {
        "LNAME": "Silva",
        "ADDRESS": dict(PARIS, state=""),
    }


# Lossy ways Odoo may hold a value pulled from Mailchimp, as the model shows them.
LOSSY = {
    "split": lambda v: {"Françoise da Silva": "Silva"}.get(v, v),
    "drop": lambda v: "",
    "code": lambda v: {"Berlin": "DE-BE"}.get(v, v),
    "round": lambda v: round(v, 2) if isinstance(v, float) else v,
    "strip": lambda v: v.strip() if isinstance(v, str) else v,
    "exact": lambda v: v,
}
MC_VALUES = ("", "x", " x ", "Berlin", "Françoise da Silva", 3.14159, 2)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("winner", ["odoo", "mailchimp"])
@pytest.mark.parametrize("lossy", sorted(LOSSY))
def test_generated_round_trips_settle_and_real_changes_still_flow(
    lossy, winner, direction
):
    """Whatever Odoo makes of a pulled value, the next runs write nothing; a later
    change on either side still moves (two bases)."""
    hold = LOSSY[lossy]
    for mc in MC_VALUES:
        # pulled: Odoo holds its form of it; bases as the model stores them
        synced, odoo_synced = {"T": mc}, {"T": hold(mc)}
        for _run in ("incremental", "full"):
            quiet = two(
                synced, odoo_synced, {"T": hold(mc)}, {"T": mc}, winner, direction
            )
            assert (quiet.to_mailchimp, quiet.to_odoo, quiet.conflicts) == (
                {},
                {},
                [],
            ), (lossy, mc)
            assert (quiet.new_synced, quiet.new_odoo_synced) == (synced, odoo_synced)
        if direction != "mailchimp2odoo":
            pushed = two(
                synced, odoo_synced, {"T": "new"}, {"T": mc}, winner, direction
            )
            assert pushed.to_mailchimp == {"T": "new"}
        if direction != "odoo2mailchimp":
            pulled = two(
                synced,
                odoo_synced,
                {"T": hold(mc)},
                {"T": "changed"},
                winner,
                direction,
            )
            assert pulled.to_odoo == {"T": "changed"}
