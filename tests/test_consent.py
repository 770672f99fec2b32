"""Consent rules without a database (utils/consent.py):
blacklist option (F16), GDPR permissions."""

import pytest

from mailchimp_utils.consent import (
    BLACKLIST_STATUSES,
    OPT_OUT_UNSUBSCRIBES,
    blacklist_action,
    changed_permissions,
    member_permissions,
    new_member_opt_out,
    optout_action,
    permissions_payload,
    resolve_permissions,
)

# ------------------------------------------------------------------------ Odoo opt-outs
ALL_STATUSES = [
    "subscribed",
    "pending",
    "unsubscribed",
    "cleaned",
    "transactional",
    "archived",
    None,
]


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("unsubscribe", [True, False])
@pytest.mark.parametrize(
    "remembered,opted_out", [(False, False), (True, True), (None, False)]
)
def test_no_change_in_odoo_does_nothing(remembered, opted_out, status, unsubscribe):
    # a person who subscribed again in Mailchimp
    # while still blacklisted stays subscribed
    assert optout_action(remembered, opted_out, status, unsubscribe=unsubscribe) is None


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("unsubscribe", [True, False])
def test_leaving_the_blacklist_sends_nothing(status, unsubscribe):
    # Odoo never re-subscribes anybody: only remembered
    assert optout_action(True, False, status, unsubscribe=unsubscribe) == "forget"


@pytest.mark.parametrize("remembered", [False, None])
@pytest.mark.parametrize("status", ALL_STATUSES)
def test_a_new_opt_out_unsubscribes_only_who_mailchimp_mails(remembered, status):
    action = optout_action(remembered, True, status, unsubscribe=True)
    if status in ("subscribed", "pending"):
        assert action == "unsubscribe"
    else:
        # cleaned, archived, transactional, already
        # unsubscribed, not known: no status sent
        assert action == "remember"
    assert OPT_OUT_UNSUBSCRIBES == ("subscribed", "pending")


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_with_the_option_off_an_opt_out_is_only_remembered(status):
    assert optout_action(False, True, status, unsubscribe=False) == "remember"


def test_new_contacts_opted_out_follow_the_policy():
    assert new_member_opt_out(False, "skip") == "subscribe"
    assert new_member_opt_out(False, "unsubscribed") == "subscribe"
    assert new_member_opt_out(True, "unsubscribed") == "unsubscribed"
    assert new_member_opt_out(True, "skip") == "skip"
    with pytest.raises(ValueError):
        new_member_opt_out(True, "subscribed")


# --------------------------------------------------------------------------- blacklist
@pytest.mark.parametrize("new", BLACKLIST_STATUSES)
@pytest.mark.parametrize(
    "old", [None, "subscribed", "pending", "transactional", "archived"]
)
def test_becoming_unsubscribed_or_cleaned_blacklists_when_opted_in(old, new):
    assert blacklist_action(old, new, mirror=True) == "add"
    assert blacklist_action(old, new, mirror=False) is None
    assert blacklist_action(old, new, mirror=False, unmirror=True) is None


@pytest.mark.parametrize("old", BLACKLIST_STATUSES)
@pytest.mark.parametrize("new", BLACKLIST_STATUSES)
def test_no_change_no_new_blacklisting(old, new):
    # an admin who took the address off Odoo's
    # blacklist keeps that until a new unsubscribe
    assert blacklist_action(old, new, mirror=True) is None


@pytest.mark.parametrize("old", BLACKLIST_STATUSES)
def test_resubscribing_unblacklists_only_with_the_second_opt_in(old):
    assert blacklist_action(old, "subscribed", mirror=True) is None
    assert blacklist_action(old, "subscribed", mirror=True, unmirror=True) == "remove"
    assert blacklist_action(old, "subscribed", mirror=False, unmirror=True) is None
    # pending is not an opt-in yet; archived is not one either
    for new in ("pending", "archived", "transactional"):
        assert blacklist_action(old, new, mirror=True, unmirror=True) is None


@pytest.mark.parametrize(
    "status", ["subscribed", "pending", "transactional", "archived"]
)
def test_other_statuses_never_touch_the_blacklist(status):
    for old in (None, "subscribed", "pending"):
        assert blacklist_action(old, status, mirror=True, unmirror=True) is None


# ------------------------------------------------------------------ reading permissions
MEMBER = {
    "marketing_permissions": [
        {"marketing_permission_id": "aaa", "text": "Email", "enabled": True},
        {"marketing_permission_id": "bbb", "text": "Direct Mail", "enabled": False},
        {"text": "no id"},
        "junk",
    ]
}


def test_member_permissions_read_as_mailchimp_shows_them():
    assert member_permissions(MEMBER) == {
        "aaa": {"text": "Email", "enabled": True},
        "bbb": {"text": "Direct Mail", "enabled": False},
    }


def test_payload_is_mailchimps_write_form_sorted():
    assert permissions_payload({"bbb": 0, "aaa": True}) == [
        {"marketing_permission_id": "aaa", "enabled": True},
        {"marketing_permission_id": "bbb", "enabled": False},
    ]
    assert permissions_payload({}) == []


# ------------------------------------------------------------------ merging permissions
def test_first_sync_enabled_side_wins_and_false_never_withdraws():
    r = resolve_permissions(
        None, {"aaa": True, "bbb": False}, {"aaa": False, "bbb": True}, "odoo", "both"
    )
    assert r.to_mailchimp == {"aaa": True}
    assert r.to_odoo == {"bbb": True}
    assert r.conflicts == []
    assert r.new_synced == {"aaa": True, "bbb": True}


def test_first_sync_both_false_agrees_on_false():
    r = resolve_permissions({}, {"aaa": False}, {"aaa": False}, "mailchimp", "both")
    assert (r.to_mailchimp, r.to_odoo, r.new_synced) == ({}, {}, {"aaa": False})


def test_withdrawal_goes_across_after_the_first_sync():
    r = resolve_permissions(
        {"aaa": True}, {"aaa": False}, {"aaa": True}, "mailchimp", "both"
    )
    assert r.to_mailchimp == {"aaa": False} and r.new_synced == {"aaa": False}
    r = resolve_permissions(
        {"aaa": True}, {"aaa": True}, {"aaa": False}, "odoo", "both"
    )
    assert r.to_odoo == {"aaa": False} and r.new_synced == {"aaa": False}


def test_booleans_changed_on_both_sides_agree():
    # two sides that both moved away from a
    # boolean base hold the same value: no conflict
    for winner in ("odoo", "mailchimp"):
        r = resolve_permissions(
            {"aaa": True}, {"aaa": False}, {"aaa": False}, winner, "both"
        )
        assert (r.to_mailchimp, r.to_odoo, r.conflicts, r.new_synced) == (
            {},
            {},
            [],
            {"aaa": False},
        )


@pytest.mark.parametrize(
    "direction, pushed, pulled",
    [
        ("mailchimp2odoo", {}, {"bbb": True}),
        ("odoo2mailchimp", {"aaa": True}, {}),
        ("both", {"aaa": True}, {"bbb": True}),
    ],
)
def test_direction_rules_apply(direction, pushed, pulled):
    r = resolve_permissions(
        {"aaa": False, "bbb": False},
        {"aaa": True, "bbb": False},
        {"aaa": False, "bbb": True},
        "odoo",
        direction,
    )
    assert r.to_mailchimp == pushed
    assert r.to_odoo == pulled


def test_blocked_direction_keeps_the_receivers_value_as_base():
    # Odoo enabled it but the sync only reads Mailchimp: no loop of the same difference
    r = resolve_permissions(
        {"aaa": False}, {"aaa": True}, {"aaa": False}, "odoo", "mailchimp2odoo"
    )
    assert r.to_mailchimp == {} and r.new_synced == {"aaa": False}
    again = resolve_permissions(
        r.new_synced, {"aaa": True}, {"aaa": False}, "odoo", "mailchimp2odoo"
    )
    assert again.conflicts == [] and again.to_odoo == {}


def test_permissions_mailchimp_does_not_show_are_left_alone():
    r = resolve_permissions(
        None, {"aaa": True, "zzz": True}, {"aaa": True}, "odoo", "both"
    )
    assert "zzz" not in r.new_synced and r.to_mailchimp == {}


def test_changed_permissions_send_only_what_moved():
    assert (
        changed_permissions({"aaa": True, "bbb": False}, {"aaa": True, "bbb": False})
        == {}
    )
    assert changed_permissions({"aaa": True}, {"aaa": False}) == {"aaa": False}
    # never agreed on: enabled is sent, a default False is not
    assert changed_permissions(None, {"aaa": True, "bbb": False}) == {"aaa": True}
    assert changed_permissions({}, {"bbb": False}) == {}
