"""Tags (F13) and interests (F14) planned without a database (utils/tag_rules.py,
utils/interest_rules.py)."""

import pytest

from mailchimp_utils.interest_rules import (
    interest_changes,
    new_member_interests,
    rule_holds,
    wanted_interests,
)
from mailchimp_utils.tag_rules import (
    SEGMENT_BULK_MAX,
    bulk_bodies,
    bulk_outcome,
    find_tag,
    tag_key,
)


# --------------------------------------------------------------------------- tags
def test_tag_names_are_case_insensitive():
    assert tag_key("  VIP   Customers ") == tag_key("vip customers")
    assert tag_key("VIP") != tag_key("VIP2")
    segments = [
        {"id": 1, "name": "Customers", "type": "saved"},
        {"id": 2, "name": "customers", "type": "static"},
        {"id": 3, "name": "Leads", "type": "static"},
    ]
    assert find_tag(segments, "CUSTOMERS")["id"] == 2  # a saved segment is no tag
    assert find_tag(segments, "Lead") is None


def test_bulk_bodies_carry_500_adds_and_500_removes_per_call():
    adds = [f"a{i}@x.com" for i in range(1201)]
    removes = [f"r{i}@x.com" for i in range(300)]
    bodies = bulk_bodies(adds, removes)
    assert len(bodies) == 3  # ceil(1201 / 500), removals ride along
    assert [len(b.get("members_to_add", [])) for b in bodies] == [500, 500, 201]
    assert [len(b.get("members_to_remove", [])) for b in bodies] == [300, 0, 0]
    assert "members_to_remove" not in bodies[1]
    sent = [e for b in bodies for e in b.get("members_to_add", [])]
    assert sent == adds  # each once, in order
    assert all(len(b.get(k, [])) <= SEGMENT_BULK_MAX for b in bodies for k in b)
    assert bulk_bodies([], []) == []
    assert bulk_bodies([], ["r@x.com"]) == [{"members_to_remove": ["r@x.com"]}]


def test_bulk_outcome_reads_mailchimp_errors():
    body = {
        "members_to_add": ["a@x.com", "B@x.com", "gone@x.com"],
        "members_to_remove": ["c@x.com", "d@x.com"],
    }
    response = {
        "errors": [
            {
                "email_addresses": ["b@x.com"],
                "error": "Email addresses already exist in this segment",
            },
            {
                "email_addresses": ["gone@x.com"],
                "error": "Email addresses do not belong to this list",
            },
            {
                "email_addresses": ["d@x.com"],
                "error": "Email addresses are not in this segment",
            },
        ]
    }
    added, removed, refused = bulk_outcome(body, response)
    assert added == ["a@x.com", "b@x.com"]
    assert removed == ["c@x.com", "d@x.com"]
    assert refused == {"gone@x.com": "Email addresses do not belong to this list"}
    assert bulk_outcome({"members_to_add": ["a@x.com"]}, {}) == (["a@x.com"], [], {})


# --------------------------------------------------------------------------- interests
RULES = [
    {"interest": "i1", "kind": "tag", "tag_id": 7},
    {"interest": "i1", "kind": "boolean", "field": "is_company"},
    {"interest": "i2", "kind": "selection", "field": "type", "value": "invoice"},
]


def test_rules_hold_on_tags_booleans_and_selection_values():
    assert rule_holds(RULES[0], {"category_id": [3, 7]})
    assert not rule_holds(RULES[0], {"category_id": []})
    assert rule_holds(RULES[1], {"is_company": True})
    assert not rule_holds(RULES[2], {"type": "contact"})
    with pytest.raises(ValueError):
        rule_holds({"interest": "x", "kind": "python"}, {})


def test_wanted_interests_or_the_rules_of_one_interest():
    assert wanted_interests(
        RULES, {"category_id": [7], "is_company": False, "type": "invoice"}
    ) == {
        "i1": True,
        "i2": True,
    }
    assert wanted_interests(
        RULES, {"category_id": [], "is_company": True, "type": "other"}
    ) == {
        "i1": True,
        "i2": False,
    }
    assert wanted_interests(RULES, {}) == {"i1": False, "i2": False}
    assert wanted_interests([], {"is_company": True}) == {}


def test_interest_changes_send_only_what_changed_in_odoo():
    # unchanged since the last sync: nothing, whatever Mailchimp shows now
    assert (
        interest_changes(
            {"i1": True, "i2": False}, {"i1": True, "i2": False}, {"i1": False}
        )
        == {}
    )
    # changed in Odoo: sent, both ways
    assert interest_changes({"i1": False, "i2": True}, {"i1": True, "i2": False}) == {
        "i1": False,
        "i2": True,
    }


def test_interest_changes_never_take_away_on_first_link():
    # never synced: on in Odoo and not on in Mailchimp -> sent; off is not sent
    assert interest_changes(
        {"i1": True, "i2": False}, None, {"i1": False, "i2": True}
    ) == {"i1": True}
    assert interest_changes({"i1": True}, None, {"i1": True}) == {}
    assert interest_changes({"i1": True, "i2": False}, None, None) == {"i1": True}
    # a new rule on a synced member: its interest is unknown, the others are known
    assert interest_changes({"i1": True, "i3": True}, {"i1": True}, {"i3": False}) == {
        "i3": True
    }


def test_new_member_interests_are_the_ones_on():
    assert new_member_interests({"i1": True, "i2": False}) == {"i1": True}
    assert new_member_interests({}) == {}
