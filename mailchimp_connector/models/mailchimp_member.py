# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL, sql

MEMBER_STATUSES = [
    ("subscribed", "Subscribed"),
    ("pending", "Pending"),
    ("unsubscribed", "Unsubscribed"),
    ("cleaned", "Cleaned"),
    ("transactional", "Transactional"),
    ("archived", "Archived"),
]


class MailchimpMember(models.Model):
    """One contact in one pairing: the link by
    email and what each side held at the last sync.

    ``synced_values`` holds Mailchimp's merge values as the sync last read or
    wrote them, ``odoo_synced_values`` the contact's values in Mailchimp's form
    as Odoo showed them right after that sync. They differ where Odoo cannot
    hold Mailchimp's value exactly (a name split, a state Odoo lacks, the
    company of a parent company): the three-way merge compares each side with
    its own base, so such a difference is not a change and is never sent back.
    Members synced before the second base existed have none (NULL): their
    ``synced_values`` stands for both (``sync_rules.legacy_odoo_base``).
    """

    _name = "mailchimp.member"
    _description = "Mailchimp Audience Member"
    _order = "email, id"
    _rec_name = "email"

    # no index of its own: the unique indexes below start with pairing_id, and
    # a lone pairing_id index lures the planner into scanning a whole pairing
    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        required=True,
        ondelete="cascade",
        readonly=True,
    )
    # precomputed: set in the INSERT, not by an UPDATE of every new row
    audience_id = fields.Many2one(
        related="pairing_id.audience_id", store=True, precompute=True
    )
    company_id = fields.Many2one(
        related="pairing_id.company_id", store=True, precompute=True
    )
    partner_id = fields.Many2one(
        "res.partner", string="Contact", ondelete="set null", index=True, readonly=True
    )
    email = fields.Char(required=True, readonly=True)
    subscriber_hash = fields.Char(required=True, readonly=True)
    mailchimp_contact_id = fields.Char(
        readonly=True,
        index="btree_not_null",
        help="Mailchimp's id that survives email changes.",
    )
    status = fields.Selection(MEMBER_STATUSES, readonly=True)
    mailchimp_last_changed = fields.Datetime(
        string="Changed in Mailchimp", readonly=True
    )
    last_sync_date = fields.Datetime(string="Last Updated", readonly=True)
    synced_values = fields.Json(
        string="Mailchimp's values at the last sync", readonly=True, copy=False
    )
    synced_fingerprint = fields.Char(readonly=True, copy=False)
    odoo_synced_values = fields.Json(
        string="Odoo's values at the last sync", readonly=True, copy=False
    )
    # the contact's write_date when synced_values were taken from or written to it:
    # the push of the same run can tell, without converting it again, that a
    # contact its pull has just merged has not changed since
    partner_write_date = fields.Datetime(readonly=True, copy=False)
    last_seen_run_id = fields.Many2one(
        "mailchimp.sync.run", readonly=True, ondelete="set null", index="btree_not_null"
    )
    need_push = fields.Boolean(
        readonly=True,
        index="btree_not_null",
        help="Mailchimp must receive this contact's values at the next push.",
    )
    # GDPR marketing permissions: as Mailchimp last showed them, and the mapped ones
    # both sides agreed on ({Mailchimp permission id: bool}, the three-way merge's base)
    consent_ids = fields.One2many(
        "mailchimp.member.consent", "member_id", string="Marketing Permissions"
    )
    synced_permissions = fields.Json(readonly=True, copy=False)
    # Odoo's opt-out (email blacklist) of the contact as the sync last saw it: only a
    # change of it is sent, so a person who subscribes again in Mailchimp
    # while still on Odoo's blacklist is not unsubscribed again at every run
    odoo_opt_out = fields.Boolean(
        string="Opted out in Odoo",
        default=False,
        readonly=True,
        copy=False,
        help="The contact's address was on Odoo's email blacklist when the sync last "
        "looked. A change of it is what the sync acts on.",
    )

    # tags (F13): the tag rules whose Mailchimp tag this sync put on the member
    tag_rule_ids = fields.Many2many(
        "mailchimp.tag.rule",
        "mailchimp_tag_rule_member_rel",
        "member_id",
        "rule_id",
        string="Tags set by Odoo",
        readonly=True,
        copy=False,
    )
    # interests (F14): {interest id: bool} as last read from Mailchimp, and the
    # values of the mapped interests Odoo had at the member's last sync
    mailchimp_interests = fields.Json(
        string="Interests in Mailchimp", readonly=True, copy=False
    )
    synced_interests = fields.Json(readonly=True, copy=False)
    interest_names = fields.Char(string="Interests", compute="_compute_interest_names")

    _sql_constraints = [
        (
            "pairing_hash_uniq",
            "unique(pairing_id, subscriber_hash)",
            "A Mailchimp member is linked once per sync.",
        ),
        (
            "pairing_partner_uniq",
            "unique(pairing_id, partner_id)",
            "A contact is linked to one Mailchimp member per sync.",
        ),
    ]

    def _auto_init(self):
        """An upgrade that adds ``odoo_opt_out`` fills it with today's opt-outs: the
        sync takes them as already seen, so the upgrade itself sends nothing."""
        cr = self.env.cr
        if sql.table_exists(cr, self._table) and not sql.column_exists(
            cr, self._table, "odoo_opt_out"
        ):
            sql.create_column(
                cr, self._table, "odoo_opt_out", "boolean", "Opted out in Odoo"
            )
            cr.execute(
                SQL(
                    """
                    UPDATE mailchimp_member m
                       SET odoo_opt_out = TRUE
                      FROM res_partner p, mail_blacklist bl
                     WHERE p.id = m.partner_id
                       AND bl.email = p.email_normalized
                       AND bl.active
                    """
                )
            )
        return super()._auto_init()

    def init(self):
        res = super().init()
        # the few members a sync remembers as opted out, found at each push
        sql.create_index(
            self.env.cr,
            "mailchimp_member_odoo_opt_out_index",
            self._table,
            ["pairing_id"],
            where="odoo_opt_out",
        )
        return res

    @api.depends("email", "status")
    def _compute_display_name(self):
        labels = dict(MEMBER_STATUSES)
        for member in self:
            member.display_name = f"{member.email} ({labels.get(member.status, '?')})"

    @api.depends("mailchimp_interests", "audience_id")
    def _compute_interest_names(self):
        interests = (
            self.env["mailchimp.interest"]
            .with_context(active_test=False)
            .search_fetch(
                [("audience_id", "in", self.audience_id.ids)],
                ["audience_id", "mailchimp_id", "name"],
            )
        )
        names = {(i.audience_id.id, i.mailchimp_id): i.name for i in interests}
        for member in self:
            member.interest_names = ", ".join(
                names.get((member.audience_id.id, interest_id), interest_id)
                for interest_id, value in sorted(
                    (member.mailchimp_interests or {}).items()
                )
                if value
            )

    def action_open_partner(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": self.partner_id.id,
            "view_mode": "form",
        }
