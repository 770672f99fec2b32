# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The tags step (F13): each of the sync's tag rules brought in line in Mailchimp,
once the contacts are synced and committed.

A rule's tag is added to the linked contacts that entered its domain and taken
off those that left it, 500 + 500 addresses per call (static segment bulk); the
differences are computed in SQL from the members the rule remembers it tagged
(``mailchimp.tag.rule``), without reading Mailchimp."""

import logging

from odoo import fields

from ..utils import mailchimp_errors as mc_errors
from ..utils import tag_rules
from .step import Step

_logger = logging.getLogger(__name__)


class TagStep(Step):
    def run(self):
        """Bring each rule's tag in Mailchimp in line with its domain.

        An error on one rule becomes a failure line of the run and the next
        rule goes on; the contacts' sync, committed before, is not touched.
        Returns False when the deadline passed (the next pass goes on: what is
        left is computed again from what was committed).
        """
        rules = self.pairing.tag_rule_ids
        if self.sync_run.direction == "mailchimp2odoo" or not rules:
            return True
        self._commit()
        client, deadline = self.client, self.deadline
        list_id = self.pairing.audience_id.mailchimp_list_id
        tags = {}  # the audience's tags, read once if a rule needs them
        for rule in rules:
            try:
                self._ensure_segment(rule, client, list_id, tags)
                if not self._send_changes(rule, client, list_id, deadline):
                    return False
            except mc_errors.MailchimpAuthError:
                raise  # the account's, not the rule's: the run reports it
            except mc_errors.MailchimpError as error:
                _logger.info(
                    "Mailchimp tag %s of sync %s failed: %s",
                    rule.id,
                    self.pairing.id,
                    type(error).__name__,
                )
                self._fail(rule, error)
            self._count_requests(client)
            self._commit()
        return True

    def _reason(self, rule, error):
        if isinstance(error, mc_errors.MailchimpError):
            error = rule.pairing_id.account_id._mailchimp_error_message(error)
        return self.env._("Tag %(tag)s: %(error)s", tag=rule.name, error=error)

    def _fail(self, rule, error):
        self._record_failures(
            "odoo2mailchimp", [(False, False, self._reason(rule, error))]
        )

    def _ensure_segment(self, rule, client, list_id, tags):
        """Find or create the rule's tag; rename it when the rule was renamed
        (a rename Mailchimp refuses is reported; the tag keeps its name)."""
        if rule.mailchimp_segment_id and self.sync_run.full:
            # a full run also checks that the tag still exists (it may have been
            # deleted in Mailchimp while Odoo had nothing to change on it)
            try:
                client.get(
                    f"/lists/{list_id}/segments/{rule.mailchimp_segment_id}",
                    params={"fields": "id,name"},
                )
            except mc_errors.MailchimpNotFoundError:
                self._forget_segment(rule)
        # as this run read it: a rename saved meanwhile is the next run's
        name = rule.name
        if rule.mailchimp_segment_id:
            if name != rule.mailchimp_tag_name:
                try:
                    client.patch(
                        f"/lists/{list_id}/segments/{rule.mailchimp_segment_id}",
                        json={"name": name},
                    )
                except mc_errors.MailchimpNotFoundError:
                    # deleted in Mailchimp: found or made again below
                    self._forget_segment(rule)
                except mc_errors.MailchimpError as error:
                    # e.g. another tag has that name: keep the old one in step, say why
                    self._fail(rule, error)
                    return
                else:
                    self._write_rule(rule, {"mailchimp_tag_name": name})
            if rule.mailchimp_segment_id:
                return
        if "all" not in tags:
            tags["all"] = list(
                client.paginate(
                    f"/lists/{list_id}/segments",
                    "segments",
                    params={"type": "static"},
                    fields=["id", "name", "type"],
                )
            )
        # an existing tag is adopted as it is, its name in another case included
        segment = tag_rules.find_tag(tags["all"], name)
        if not segment:
            segment = client.post(
                f"/lists/{list_id}/segments", json={"name": name, "static_segment": []}
            )
            tags["all"].append(segment)
        self._write_rule(
            rule, {"mailchimp_segment_id": segment["id"], "mailchimp_tag_name": name}
        )

    def _forget_segment(self, rule):
        """The tag is gone from Mailchimp: nobody carries it any more."""
        rule._unlink_all_members()
        self._write_rule(rule, {"mailchimp_segment_id": 0, "mailchimp_tag_name": False})

    def _write_rule(self, rule, vals):
        """What the run learnt of the rule's tag, written apart from the run's work:
        the sync's form edits the same row (a rename, a domain) while a run goes on,
        and a run must never fail on a person's save."""
        self._write_apart(lambda: rule.write(vals))

    def _send_changes(self, rule, client, list_id, deadline=None):
        """Members in and out, 500 + 500 per call, each call committed with its links.

        Both differences are read once (one query each, whatever the audience's
        size: per-call keyset queries would each scan the pairing's members); a
        run cut off reads what is left again at its next pass.
        """
        size = tag_rules.SEGMENT_BULK_MAX
        retried = False
        adds, removes = rule._differences()
        start = 0
        while start < max(len(adds), len(removes)):
            add_rows, remove_rows = (
                adds[start : start + size],
                removes[start : start + size],
            )
            body = tag_rules.bulk_bodies(
                [email for _id, email, _p in add_rows],
                [email for _id, email, _p in remove_rows],
            )[0]
            try:
                response = client.post(
                    f"/lists/{list_id}/segments/{rule.mailchimp_segment_id}", json=body
                )
            except mc_errors.MailchimpNotFoundError:
                if retried:
                    raise
                # the tag was deleted in Mailchimp: make it again and tag everyone anew
                retried = True
                self._forget_segment(rule)
                self._ensure_segment(rule, client, list_id, {})
                adds, removes = rule._differences()
                start = 0
                continue
            added, removed, refused = tag_rules.bulk_outcome(body, response)
            rule._store_links(add_rows, remove_rows, added, removed)
            self._record_failures(
                "odoo2mailchimp",
                [
                    (partner_id, email, self._reason(rule, refused[email]))
                    for _id, email, partner_id in add_rows
                    if email in refused
                ],
            )
            self._add(tag_added=len(added), tag_removed=len(removed))
            self._count_requests(client)
            self._commit()
            start += size
            if self._out_of_time(deadline):
                return False
        self._write_rule(rule, {"last_sync_date": fields.Datetime.now()})
        return True
