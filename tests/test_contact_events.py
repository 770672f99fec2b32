"""Contact events and tags from Automation Rules, planned without a database
(utils/contact_events.py): names, property mappings and values, request
bodies, the check that finds events already sent, tag wishes, retry delays."""

from datetime import date, datetime

import pytest

from mailchimp_utils.contact_events import (
    MAX_RETRY_SECONDS,
    already_sent,
    event_body,
    idempotency_key,
    parse_mailchimp_time,
    parse_property_map,
    property_text,
    retry_delay,
    tag_changes,
    valid_event_name,
)


@pytest.mark.parametrize(
    "name, valid",
    [
        ("order_confirmed", True),
        ("ab", True),
        ("a" * 30, True),
        ("lead-won-2", True),
        ("a", False),
        ("a" * 31, False),
        ("order confirmed", False),
        ("commande_confirmée", False),
        ("", False),
        (None, False),
    ],
)
def test_event_names(name, valid):
    assert valid_event_name(name) is valid


def test_property_map_lines():
    text = """
    # what the journey shows
    amount = amount_total
    reference=name

    country=partner_id.country_id.code
    """
    assert parse_property_map(text) == [
        ("amount", "amount_total"),
        ("reference", "name"),
        ("country", "partner_id.country_id.code"),
    ]
    assert parse_property_map("") == [] and parse_property_map(None) == []


@pytest.mark.parametrize(
    "text, line",
    [
        ("amount", 1),
        ("amount=\n", 1),
        ("ok=name\nbad key=name", 2),
        ("ok=name\nother=Name", 2),
        ("ok=name\nok=amount_total", 2),
        ("x=partner_id..name", 1),
    ],
)
def test_property_map_errors_name_the_line(text, line):
    with pytest.raises(ValueError) as caught:
        parse_property_map(text)
    assert caught.value.args == (line,)


def test_property_values_are_strings():
    assert property_text(1234.5) == "1234.5"
    assert property_text(3) == "3"
    assert property_text("S00042") == "S00042"
    assert property_text(False, "boolean") == "false"
    assert property_text(True, "boolean") == "true"
    assert property_text(False, "char") == ""
    assert property_text(None) == ""
    assert property_text(["Azure", "", "Deco"], "many2many") == "Azure, Deco"
    assert property_text(date(2030, 1, 2), "date") == "2030-01-02"
    assert property_text(datetime(2030, 1, 2, 3, 4, 5), "datetime") == (
        "2030-01-02T03:04:05+00:00"
    )


def test_event_body():
    body = event_body(
        "order_confirmed", {"amount": 12.5, "ref": "S1"}, datetime(2030, 1, 2, 3, 4, 5)
    )
    assert body == {
        "name": "order_confirmed",
        "properties": {"amount": "12.5", "ref": "S1"},
        "occurred_at": "2030-01-02T03:04:05+00:00",
        "is_syncing": False,
    }


def test_mailchimp_times():
    assert parse_mailchimp_time("2030-01-02T03:04:05+00:00") == parse_mailchimp_time(
        "2030-01-02T04:04:05.700+01:00"
    )
    assert parse_mailchimp_time("2030-01-02T03:04:05Z").hour == 3
    assert parse_mailchimp_time("") is None
    assert parse_mailchimp_time("not a time") is None


def test_already_sent_matches_name_second_and_properties():
    moment = datetime(2030, 1, 2, 3, 4, 5, 900000)
    later = datetime(2030, 1, 2, 3, 4, 6)
    pending = [
        (1, "order_confirmed", {"ref": "S1"}, moment),
        (2, "order_confirmed", {"ref": "S2"}, moment),  # other properties
        (3, "order_confirmed", {"ref": "S1"}, later),  # other second
        (4, "visited", {}, moment),  # other name
        (5, "order_confirmed", {"ref": "S1"}, moment),  # a twin of 1
    ]
    events = [
        {
            "name": "order_confirmed",
            "properties": {"ref": "S1"},
            "occurred_at": "2030-01-02T03:04:05+00:00",
        },
        {"name": "signed_up", "properties": {}, "occurred_at": "2030-01-01T00:00:00Z"},
    ]
    # one listed event stands for one row: the twin is still to send
    assert already_sent(pending, events) == {1}
    assert already_sent(pending, events + events) == {1, 5}
    assert already_sent(pending, []) == set()


def test_tag_changes_latest_wish_wins():
    rows = [
        (1, "Ann@corp.com", "tag_add", 1),
        (2, "ann@corp.com", "tag_remove", 2),
        (3, "bob@corp.com", "tag_add", 1),
        (4, "bob@corp.com", "tag_add", 3),
        (5, "cat@corp.com", "tag_remove", 5),
        (6, "cat@corp.com", "tag_add", 4),
    ]
    to_add, to_remove, superseded = tag_changes(rows)
    assert to_add == {"bob@corp.com": [3, 4]}
    assert to_remove == {"ann@corp.com": [2], "cat@corp.com": [5]}
    assert sorted(superseded) == [1, 6]


def test_retry_delay_doubles_up_to_an_hour():
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(20) == MAX_RETRY_SECONDS


def test_idempotency_key():
    key = idempotency_key("sale.order", 7, 12, "event", "order_confirmed")
    assert key == "sale.order:7:12:event:order_confirmed"
    assert key != idempotency_key("sale.order", 8, 12, "event", "order_confirmed")
