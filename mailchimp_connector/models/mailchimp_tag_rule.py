# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from ..utils import mailchimp_errors as mc_errors
from ..utils import tag_rules

_logger = logging.getLogger(__name__)


class MailchimpTagRule(models.Model):
    """F13: "the contacts of this sync matching this domain carry this Mailchimp tag".

    At the end of each run the tag is added to the linked contacts that entered
    the domain and taken off those that left it, 500 + 500 addresses per call
    (static segment bulk). The rule remembers which members it tagged
    (``member_ids``), so the difference is computed in SQL without reading
    Mailchimp; a tag put by hand in Mailchimp on another contact is left alone.
    The domain applies to the sync's linked contacts, archived ones included (as
    in the sync's segment); a member without contact, or archived in Mailchimp,
    loses the tag.
    """

    _name = "mailchimp.tag.rule"
    _description = "Mailchimp Tag Rule"
    _order = "pairing_id, sequence, id"

    sequence = fields.Integer(default=10)
    active = fields.Boolean(
        default=True,
        help="An archived rule is no longer applied: its tag stays as it is in "
        "Mailchimp.",
    )
    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(related="pairing_id.company_id", store=True)
    name = fields.Char(
        string="Mailchimp Tag",
        required=True,
        help="Tag names are case-insensitive in Mailchimp: an existing tag of that "
        "name is used.",
    )
    partner_domain = fields.Char(
        string="Contacts",
        required=True,
        default="[]",
        help="The sync's linked contacts matching this domain carry the tag; the "
        "others do not.",
    )
    mailchimp_segment_id = fields.Integer(
        string="Mailchimp Tag ID",
        readonly=True,
        copy=False,
        help="The tag's static segment in Mailchimp, found or created at the first "
        "sync.",
    )
    mailchimp_tag_name = fields.Char(
        readonly=True,
        copy=False,
        help="The rule's name when its tag was last found, created or renamed in "
        "Mailchimp: when the rule's name changes, the tag is renamed.",
    )
    member_ids = fields.Many2many(
        "mailchimp.member",
        "mailchimp_tag_rule_member_rel",
        "rule_id",
        "member_id",
        string="Tagged Members",
        readonly=True,
        copy=False,
    )
    member_count = fields.Integer(string="Tagged", compute="_compute_member_count")
    last_sync_date = fields.Datetime(readonly=True, copy=False)

    @api.constrains("partner_domain")
    def _check_partner_domain(self):
        for rule in self:
            try:
                self.env["res.partner"].search_count(rule._partner_domain(), limit=1)
            except Exception as error:  # any bad domain is the admin's to fix
                raise ValidationError(
                    self.env._(
                        "The contacts of tag %(tag)s are not a valid domain: %(error)s",
                        tag=rule.name,
                        error=error,
                    )
                ) from None

    @api.constrains("name", "pairing_id")
    def _check_name(self):
        for rule in self:
            if not tag_rules.tag_key(rule.name):
                raise ValidationError(self.env._("A tag needs a name."))
            others = rule.pairing_id.with_context(active_test=False).tag_rule_ids - rule
            if any(
                tag_rules.tag_key(o.name) == tag_rules.tag_key(rule.name)
                for o in others
            ):
                raise ValidationError(
                    self.env._(
                        "The sync %(sync)s already has a rule for the tag %(tag)s "
                        "(Mailchimp tags are case-insensitive): give that rule both "
                        "conditions.",
                        sync=rule.pairing_id.name,
                        tag=rule.name,
                    )
                )

    def _compute_member_count(self):
        counts = {}
        saved = self.filtered("id").ids  # not the rows being added in a form
        if saved:
            self.env.cr.execute(
                """SELECT rule_id, count(*) FROM mailchimp_tag_rule_member_rel
                    WHERE rule_id = ANY(%s) GROUP BY rule_id""",
                [saved],
            )
            counts.update(self.env.cr.fetchall())
        for rule in self:
            rule.member_count = counts.get(rule.id, 0)

    def _partner_domain(self):
        self.ensure_one()
        return list(safe_eval(self.partner_domain or "[]"))

    # ------------------------------------------------------------------
    # Sync (called by the run, after its contacts)
    # ------------------------------------------------------------------

    def _push_tags(self, run, client, deadline=None):
        """Bring each rule's tag in Mailchimp in line with its domain.

        An error on one rule becomes a failure line of the run and the next
        rule goes on; the contacts' sync, committed before, is not touched.
        Returns False when ``deadline`` passed (the next pass goes on: what is
        left is computed again from what was committed).
        """
        list_id = run.pairing_id.audience_id.mailchimp_list_id
        tags = {}  # the audience's tags, read once if a rule needs them
        for rule in self:
            try:
                rule._ensure_segment(run, client, list_id, tags)
                if not rule._send_changes(run, client, list_id, deadline):
                    return False
            except mc_errors.MailchimpAuthError:
                raise  # the account's, not the rule's: the run reports it
            except mc_errors.MailchimpError as error:
                _logger.info(
                    "Mailchimp tag %s of sync %s failed: %s",
                    rule.id,
                    run.pairing_id.id,
                    type(error).__name__,
                )
                rule._fail(run, error)
            run._count_requests(client)
            run._commit()
        return True

    def _reason(self, error):
        if isinstance(error, mc_errors.MailchimpError):
            error = self.pairing_id.account_id._mailchimp_error_message(error)
        return self.env._("Tag %(tag)s: %(error)s", tag=self.name, error=error)

    def _fail(self, run, error):
        run._record_failures("odoo2mailchimp", [(False, False, self._reason(error))])

    def _ensure_segment(self, run, client, list_id, tags):
        """Find or create the rule's tag; rename it when the rule was renamed
        (a rename Mailchimp refuses is reported; the tag keeps its name)."""
        if self.mailchimp_segment_id and run.full:
            # a full run also checks that the tag still exists (it may have been
            # deleted in Mailchimp while Odoo had nothing to change on it)
            try:
                client.get(
                    f"/lists/{list_id}/segments/{self.mailchimp_segment_id}",
                    params={"fields": "id,name"},
                )
            except mc_errors.MailchimpNotFoundError:
                self._forget_segment()
        # as this run read it: a rename saved meanwhile is the next run's
        name = self.name
        if self.mailchimp_segment_id:
            if name != self.mailchimp_tag_name:
                try:
                    client.patch(
                        f"/lists/{list_id}/segments/{self.mailchimp_segment_id}",
                        json={"name": name},
                    )
                except mc_errors.MailchimpNotFoundError:
                    # deleted in Mailchimp: found or made again below
                    self._forget_segment()
                except mc_errors.MailchimpError as error:
                    # e.g. another tag has that name: keep the old one in step, say why
                    self._fail(run, error)
                    return
                else:
                    self._write_run_state({"mailchimp_tag_name": name})
            if self.mailchimp_segment_id:
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
        self._write_run_state(
            {"mailchimp_segment_id": segment["id"], "mailchimp_tag_name": name}
        )

    def _forget_segment(self):
        """The tag is gone from Mailchimp: nobody carries it any more."""
        self.env.cr.execute(
            "DELETE FROM mailchimp_tag_rule_member_rel WHERE rule_id = %s", [self.id]
        )
        self._invalidate_links()
        self._write_run_state({"mailchimp_segment_id": 0, "mailchimp_tag_name": False})

    def _write_run_state(self, vals):
        """What the run learnt of the rule's tag, written apart from the run's work:
        the sync's form edits the same row (a rename, a domain) while a run goes on,
        and a run must never fail on a person's save."""
        self.pairing_id._write_concurrently(lambda: self.write(vals))

    def _member_domains(self):
        """(members to tag, members to untag): differences computed by PostgreSQL."""
        partners = self._partner_domain()
        base = [("pairing_id", "=", self.pairing_id.id)]
        to_add = base + [
            ("status", "!=", "archived"),
            ("partner_id", "any", partners),
            ("tag_rule_ids", "not in", self.ids),
        ]
        to_remove = base + [
            ("tag_rule_ids", "in", self.ids),
            "|",
            "|",
            ("status", "=", "archived"),
            ("partner_id", "=", False),
            ("partner_id", "not any", partners),
        ]
        return to_add, to_remove

    def _send_changes(self, run, client, list_id, deadline=None):
        """Members in and out, 500 + 500 per call, each call committed with its links.

        Both differences are read once (one query each, whatever the audience's
        size: per-call keyset queries would each scan the pairing's members); a
        run cut off reads what is left again at its next pass.
        """
        size = tag_rules.SEGMENT_BULK_MAX
        retried = False
        adds, removes = self._differences()
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
                    f"/lists/{list_id}/segments/{self.mailchimp_segment_id}", json=body
                )
            except mc_errors.MailchimpNotFoundError:
                if retried:
                    raise
                # the tag was deleted in Mailchimp: make it again and tag everyone anew
                retried = True
                self._forget_segment()
                self._ensure_segment(run, client, list_id, {})
                adds, removes = self._differences()
                start = 0
                continue
            added, removed, refused = tag_rules.bulk_outcome(body, response)
            self._store_links(add_rows, remove_rows, added, removed)
            run._record_failures(
                "odoo2mailchimp",
                [
                    (partner_id, email, self._reason(refused[email]))
                    for _id, email, partner_id in add_rows
                    if email in refused
                ],
            )
            run._add(tag_added=len(added), tag_removed=len(removed))
            run._count_requests(client)
            run._commit()
            start += size
            if run._out_of_time(deadline):
                return False
        self._write_run_state({"last_sync_date": fields.Datetime.now()})
        return True

    def _differences(self):
        """[(member id, email, partner id)] to tag and to untag, in id order."""
        Member = self.env["mailchimp.member"]
        columns = [
            SQL.identifier(Member._table, name)
            for name in ("id", "email", "partner_id")
        ]
        return [
            self.env.execute_query(Member._search(domain, order="id").select(*columns))
            for domain in self._member_domains()
        ]

    def _store_links(self, add_rows, remove_rows, added, removed):
        added, removed = set(added), set(removed)
        link = [member_id for member_id, email, _p in add_rows if email in added]
        unlink = [member_id for member_id, email, _p in remove_rows if email in removed]
        if link:
            self.env.cr.execute(
                """INSERT INTO mailchimp_tag_rule_member_rel (rule_id, member_id)
                   SELECT %s, unnest(%s::int[]) ON CONFLICT DO NOTHING""",
                [self.id, link],
            )
        if unlink:
            self.env.cr.execute(
                """DELETE FROM mailchimp_tag_rule_member_rel
                    WHERE rule_id = %s AND member_id = ANY(%s)""",
                [self.id, unlink],
            )
        self._invalidate_links()

    def _invalidate_links(self):
        self.invalidate_recordset(["member_ids", "member_count"])
        self.env["mailchimp.member"].invalidate_model(["tag_rule_ids"])
