"""The counts "Add to Mailchimp…" shows before anything is sent
(utils/audience_preview.py)."""

import pytest

from mailchimp_utils.audience_preview import Contact, preview


def test_mixed_selection_counts_each_contact_once():
    contacts = [
        Contact(1, "new@corp.com"),
        Contact(2, " Member@Corp.com "),
        Contact(3, "optout@corp.com", blacklisted=True),
        Contact(4, False),
        Contact(5, "not an address"),
        Contact(6, "new@corp.com"),  # a duplicate of 1
        Contact(7, "Jane <second@corp.com>"),
    ]
    result = preview(contacts, member_emails={"member@corp.com"})
    assert (
        result.new,
        result.members,
        result.opted_out,
        result.invalid,
        result.duplicates,
    ) == (2, 1, 1, 2, 1)
    assert result.to_send == 3, "an opted-out contact goes in as unsubscribed"


def test_opted_out_contacts_follow_the_syncs_rule():
    contacts = [Contact(1, "a@corp.com", True), Contact(2, "b@corp.com")]
    skip = preview(contacts, optout_policy="skip")
    assert (skip.opted_out, skip.opted_out_action, skip.to_send) == (1, "skip", 1)
    added = preview(contacts, optout_policy="unsubscribed")
    assert (added.opted_out_action, added.to_send) == ("unsubscribed", 2)
    with pytest.raises(ValueError):
        preview(contacts, optout_policy="subscribe anyway")


def test_an_opted_out_member_is_a_member_not_an_opt_out():
    result = preview([Contact(1, "a@corp.com", True)], member_emails={"a@corp.com"})
    assert (result.members, result.opted_out) == (1, 0)


def test_a_contact_linked_under_another_address_is_a_member_and_wins_its_email():
    # contact 9 is linked; 8 is older (lower id) but the linked one keeps the address
    result = preview(
        [Contact(8, "x@corp.com"), Contact(9, "x@corp.com")], member_ids={9}
    )
    assert (result.members, result.duplicates, result.new) == (1, 1, 0)


def test_same_contact_selected_twice_counts_once():
    result = preview([Contact(1, "a@corp.com"), Contact(1, "a@corp.com")])
    assert (result.new, result.duplicates) == (1, 0)


def test_empty_selection():
    result = preview([])
    assert (result.new, result.members, result.to_send) == (0, 0, 0)


def test_a_forgotten_contact_is_never_sent_nor_a_duplicate():
    # erased at the person's request: counted apart, and it does not take its
    # address from another selected contact
    result = preview(
        [
            Contact(1, "gone@corp.com", forgotten=True),
            Contact(2, "gone@corp.com"),
            Contact(3, "member@corp.com", forgotten=True),
        ],
        member_emails={"member@corp.com"},
    )
    assert (result.forgotten, result.new, result.members, result.duplicates) == (
        2,
        1,
        0,
        0,
    )
    assert result.to_send == 1
