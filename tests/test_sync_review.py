"""The setup's Review: what a sync's initial run would do, counted from plain data
(utils/sync_review.py), and the rule that decides which members become contacts
(sync_rules.creation_refused)."""

import datetime as dt

import pytest

from mailchimp_utils.sync_review import Contact, Member, Options, review
from mailchimp_utils.sync_rules import creation_refused

OLD = dt.datetime(2020, 1, 1)
NEW = dt.datetime(2024, 1, 1)


def member(email, status="subscribed", **values):
    return Member(id=f"h-{email}", email=email, status=status, values=values)


def contact(id_, email, in_segment=True, **kw):
    kw.setdefault("email_normalized", email.strip().lower() if email else False)
    return Contact(
        id=id_, name=f"Contact {id_}", email=email, in_segment=in_segment, **kw
    )


class FakeValues:
    """The run's conversions, as the engine gives them: fixed values per contact."""

    def __init__(self, values=None, refused=None):
        self.values = values or {}
        self.refused_values = refused or {}
        self.merged_calls = []

    def merged(self, contact_id, mailchimp_values):
        self.merged_calls.append((contact_id, mailchimp_values))
        return dict(self.values.get(contact_id, {})), {}

    def refused(self, contact_id):
        return self.refused_values.get(contact_id, {})


# ------------------------------------------------------------------ creation rule
@pytest.mark.parametrize(
    "status, options, expected",
    [
        ("subscribed", {}, None),
        ("pending", {}, None),
        ("transactional", {}, None),
        ("unsubscribed", {}, "unsubscribed"),
        ("cleaned", {}, "cleaned"),
        ("unsubscribed", {"create_unsubscribed": True}, None),
        ("cleaned", {"create_cleaned": True}, None),
        ("cleaned", {"create_unsubscribed": True}, "cleaned"),
        ("archived", {"create_unsubscribed": True, "create_cleaned": True}, "archived"),
        ("subscribed", {"create_missing": False}, "off"),
        ("subscribed", {"direction": "odoo2mailchimp"}, "off"),
    ],
)
def test_which_members_become_contacts(status, options, expected):
    kwargs = dict(
        direction="both",
        create_missing=True,
        create_unsubscribed=False,
        create_cleaned=False,
    )
    kwargs.update(options)
    assert creation_refused(status, **kwargs) == expected


def test_creation_rule_refuses_an_unknown_direction():
    with pytest.raises(ValueError):
        creation_refused("subscribed", "sideways", True)


# ---------------------------------------------------------------------------- pull
def test_members_created_by_status_opted_out_ones_apart():
    members = [
        member("sub@x.com"),
        member("pend@x.com", "pending"),
        member("unsub@x.com", "unsubscribed"),
        member("clean@x.com", "cleaned"),
        member("gone@x.com", "archived"),
    ]
    options = Options(direction="mailchimp2odoo", create_missing=True)
    result = review(members, [], options)
    assert result.counts["members"] == 5
    assert result.counts["members_cleaned"] == 1
    assert (result.counts["create_subscribed"], result.counts["create_pending"]) == (
        1,
        1,
    )
    assert result.counts["create_unsubscribed"] == result.counts["create_cleaned"] == 0
    assert result.counts["skip_unsubscribed"] == result.counts["skip_cleaned"] == 1
    assert result.counts["skip_archived"] == 1
    assert result.created == 2
    assert [s.email for s in result.samples["skip_cleaned"]] == ["clean@x.com"]

    everything = review(
        members,
        [],
        Options(
            direction="mailchimp2odoo",
            create_missing=True,
            create_unsubscribed=True,
            create_cleaned=True,
        ),
    )
    assert everything.created == 4
    assert everything.counts["create_cleaned"] == 1


def test_opted_out_member_is_still_linked_to_its_contact():
    members = [member("unsub@x.com", "unsubscribed"), member("clean@x.com", "cleaned")]
    contacts = [contact(1, "Unsub@X.com ", in_segment=False), contact(2, "clean@x.com")]
    result = review(members, contacts, Options(create_missing=True))
    assert result.counts["link"] == 2
    assert result.created == 0
    assert not any(key.startswith("skip_") for key in result.counts)
    # linked in the pull: the push does not add them again
    assert result.counts["in_audience"] == 1
    assert result.added == 0


def test_no_contact_created_without_the_option_or_when_only_sending():
    members = [member("a@x.com")]
    assert review(members, [], Options(create_missing=False)).counts["skip_off"] == 1
    push_only = Options(direction="odoo2mailchimp", create_missing=True)
    assert review(members, [], push_only).counts["skip_off"] == 1


def test_forgotten_address_neither_linked_nor_created():
    members = [member("gdpr@x.com")]
    contacts = [contact(1, "gdpr@x.com", candidate=False, in_segment=False)]
    result = review(
        members, contacts, Options(create_missing=True), forgotten={"gdpr@x.com"}
    )
    assert result.counts["skip_forgotten"] == 1
    assert result.counts["link"] == result.created == 0


def test_archived_member_linked_but_not_merged():
    values = FakeValues({1: {"FNAME": "Odoo"}})
    members = [member("old@x.com", "archived", FNAME="Mailchimp")]
    result = review(members, [contact(1, "old@x.com")], Options(), odoo_values=values)
    assert (result.counts["link"], result.counts["link_archived"]) == (1, 1)
    assert result.counts["conflict"] == 0
    assert values.merged_calls == []


def test_contacts_outside_the_segment_are_linked_too_the_oldest_first():
    members = [member("dup@x.com")]
    contacts = [
        contact(5, "dup@x.com", create_date=NEW),
        contact(9, "dup@x.com", in_segment=False, create_date=OLD),
    ]
    result = review(members, contacts, Options())
    assert result.samples["link"][0].contact_id == 9
    # the segment's contact is a duplicate of the linked one, as the push reports it
    assert result.counts["duplicate"] == 1
    assert result.samples["duplicate"][0].contact_id == 5
    assert result.samples["duplicate"][0].args["winner_id"] == 9
    assert result.added == 0


def test_pull_only_sync_reports_the_pulls_duplicates():
    members = [member("dup@x.com"), member("solo@x.com")]
    contacts = [
        contact(1, "dup@x.com", create_date=OLD),
        contact(2, "DUP@x.com", create_date=NEW),
        contact(3, "other@x.com", create_date=NEW),
        contact(4, "other@x.com", create_date=NEW),  # no member: not reported
    ]
    result = review(members, contacts, Options(direction="mailchimp2odoo"))
    assert result.counts["duplicate"] == 1
    assert result.samples["duplicate"][0].contact_id == 2
    assert result.counts["segment"] == 0


def test_conflicts_are_fields_both_sides_fill_differently():
    values = FakeValues(
        {1: {"FNAME": "Ann", "LNAME": "Smith"}, 2: {"FNAME": "", "LNAME": "Doe"}}
    )
    members = [
        member("ann@x.com", FNAME="Anne", LNAME="Smith"),
        member("bob@x.com", FNAME="Bob", LNAME="Doe"),
    ]
    contacts = [contact(1, "ann@x.com"), contact(2, "bob@x.com")]
    result = review(
        members, contacts, Options(conflict_winner="mailchimp"), odoo_values=values
    )
    assert result.counts["conflict"] == 1
    assert result.counts["conflict_fields"] == 1
    sample = result.samples["conflict"][0]
    assert (sample.contact_id, sample.args) == (
        1,
        {"fields": "FNAME", "winner": "mailchimp"},
    )


# ---------------------------------------------------------------------------- push
def test_segment_contacts_added_with_the_syncs_status():
    contacts = [
        contact(1, "new@x.com"),
        contact(2, "optout@x.com", blacklisted=True),
        contact(3, "member@x.com"),
    ]
    members = [member("member@x.com")]
    result = review(members, contacts, Options())
    assert result.counts["segment"] == 3
    assert (result.counts["add_subscribed"], result.counts["add_unsubscribed"]) == (
        1,
        1,
    )
    assert result.counts["in_audience"] == 1
    assert result.added == 2
    assert result.samples["add_unsubscribed"][0].reason == "optout"

    pending = review(members, contacts, Options(double_opt_in=True))
    assert pending.counts["add_pending"] == 1
    assert pending.counts["add_unsubscribed"] == 1, "an opt-out is never pending"

    skipped = review(members, contacts, Options(optout_policy="skip"))
    assert skipped.counts["optout_skipped"] == 1
    assert skipped.added == 1


def test_duplicates_and_invalid_addresses_in_the_segment():
    contacts = [
        contact(1, "same@x.com", create_date=NEW),
        contact(2, "Same@X.com", create_date=OLD),
        contact(3, "same@x.com", create_date=None),
        contact(4, "not an address", email_normalized=False),
        contact(5, "john@localhost", email_normalized="john@localhost"),
        contact(6, False, email_normalized=False),  # no email: not counted
        contact(7, "bad", email_normalized=False, active=False),  # archived
    ]
    result = review([], contacts, Options())
    assert result.counts["duplicate"] == 2
    assert {s.contact_id for s in result.samples["duplicate"]} == {1, 3}
    assert {s.args["winner_id"] for s in result.samples["duplicate"]} == {2}
    assert result.counts["invalid"] == 2
    assert {s.contact_id for s in result.samples["invalid"]} == {4, 5}
    assert result.counts["add_subscribed"] == 1


def test_an_archived_contact_is_not_sent():
    contacts = [contact(1, "arch@x.com", active=False)]
    result = review([], contacts, Options())
    assert result.added == 0
    assert result.counts["duplicate"] == 0


def test_values_mailchimp_would_refuse_are_counted_not_added():
    values = FakeValues(refused={1: {"PHONE": "Phone (PHONE): too long"}})
    contacts = [contact(1, "long@x.com"), contact(2, "fine@x.com")]
    result = review([], contacts, Options(), odoo_values=values)
    assert result.counts["value_error"] == 1
    assert result.samples["value_error"][0].args["errors"] == "Phone (PHONE): too long"
    assert result.counts["add_subscribed"] == 1


def test_pull_only_sync_adds_nothing():
    result = review([], [contact(1, "new@x.com")], Options(direction="mailchimp2odoo"))
    assert result.added == 0 and result.counts["segment"] == 0


# ------------------------------------------------------------------------ internal
def test_company_and_internal_users_in_or_out_of_the_segment():
    contacts = [
        contact(1, "info@yourcompany.com", in_segment=False, internal="company"),
        contact(2, "admin@yourcompany.com", in_segment=True, internal="user"),
        contact(3, False, email_normalized=False, in_segment=False, internal="user"),
    ]
    result = review([], contacts, Options())
    assert result.counts["internal_left_out"] == 1
    assert result.samples["internal_left_out"][0].reason == "company"
    assert result.counts["internal_in_segment"] == 1
    assert result.samples["internal_in_segment"][0].contact_id == 2


# ------------------------------------------------------------------------- samples
def test_samples_keep_the_first_ten_and_count_them_all():
    members = [member(f"m{i}@x.com") for i in range(25)]
    result = review(members, [], Options(create_missing=True))
    assert result.counts["create_subscribed"] == 25
    assert len(result.samples["create_subscribed"]) == 10
    assert (
        len(
            review(members, [], Options(create_missing=True), sample_size=3).samples[
                "create_subscribed"
            ]
        )
        == 3
    )


def test_a_member_listed_twice_is_counted_once():
    archived = member("gone@x.com", "archived")
    result = review([archived, archived], [], Options(create_missing=True))
    assert result.counts["members"] == 1


def test_a_linked_member_stays_with_its_contact():
    members = [member("ann@x.com")]
    contacts = [
        contact(1, "ann@x.com", create_date=NEW),
        contact(2, "ann@x.com", create_date=OLD),
    ]
    result = review(members, contacts, Options(), linked={"h-ann@x.com": 1})
    assert result.samples["link"][0].contact_id == 1
    assert result.counts["in_audience"] == 1
    assert result.samples["duplicate"][0].contact_id == 2
