# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from ..utils import tag_rules


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
    # What the tags step (engine/tags.py) reads and writes of a rule
    # ------------------------------------------------------------------

    def _unlink_all_members(self):
        """The tag is gone from Mailchimp: nobody carries it any more."""
        self.env.cr.execute(
            "DELETE FROM mailchimp_tag_rule_member_rel WHERE rule_id = %s", [self.id]
        )
        self._invalidate_links()

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
