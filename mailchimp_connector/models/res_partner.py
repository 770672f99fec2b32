# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, sql

from .mailchimp_member import MEMBER_STATUSES


class ResPartner(models.Model):
    _inherit = "res.partner"

    mailchimp_member_ids = fields.One2many(
        "mailchimp.member",
        "partner_id",
        string="Mailchimp Memberships",
        groups="mailchimp_connector.group_mailchimp_user",
    )
    mailchimp_status = fields.Selection(
        MEMBER_STATUSES,
        compute="_compute_mailchimp_status",
        store=True,
        groups="mailchimp_connector.group_mailchimp_user",
        help="Subscribed if subscribed to any synced audience, else the most telling "
        "status.",
    )
    mailchimp_status_detail = fields.Char(
        string="Mailchimp Status per Audience",
        compute="_compute_mailchimp_status_detail",
        groups="mailchimp_connector.group_mailchimp_user",
    )
    mailchimp_audience_count = fields.Integer(
        compute="_compute_mailchimp_status_detail",
        groups="mailchimp_connector.group_mailchimp_user",
    )

    def _auto_init(self):
        """An upgrade that stores ``mailchimp_status`` adds its column and fills it
        with one UPDATE, before the ORM would compute it contact by contact (minutes
        on a database with many contacts)."""
        cr = self.env.cr
        if not sql.column_exists(cr, self._table, "mailchimp_status"):
            sql.create_column(
                cr, self._table, "mailchimp_status", "varchar", "Mailchimp Status"
            )
            if sql.table_exists(cr, "mailchimp_member"):
                self._mailchimp_status_sql()
        return super()._auto_init()

    def _mailchimp_status_sql(self):
        """``mailchimp_status`` of every contact with members, computed in SQL
        (``_compute_mailchimp_status``'s rule)."""
        order = [status for status, _label in MEMBER_STATUSES]
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner p
                   SET mailchimp_status = s.status
                  FROM (SELECT partner_id,
                               (array_agg(status ORDER BY
                                          array_position(%s::varchar[], status)))[1]
                                   AS status
                          FROM mailchimp_member
                         WHERE partner_id IS NOT NULL
                         GROUP BY partner_id) s
                 WHERE p.id = s.partner_id
                """,
                order,
            )
        )

    def init(self):
        res = super().init()
        # matching is by normalized email only (F9); Odoo 18 does not index it
        sql.create_index(
            self.env.cr,
            "res_partner_email_normalized_index",
            self._table,
            ["email_normalized"],
            where="email_normalized IS NOT NULL",
        )
        return res

    @api.depends("mailchimp_member_ids.status")
    def _compute_mailchimp_status(self):
        order = [status for status, _label in MEMBER_STATUSES]
        for partner in self:
            statuses = partner.mailchimp_member_ids.mapped("status")
            partner.mailchimp_status = (
                min(statuses, key=order.index) if statuses else False
            )

    @api.depends("mailchimp_member_ids.status", "mailchimp_member_ids.audience_id")
    def _compute_mailchimp_status_detail(self):
        """``Newsletter: Subscribed · Customers: Unsubscribed``: one status per
        audience (the contact's header shows it when there are several)."""
        labels = dict(MEMBER_STATUSES)
        order = [status for status, _label in MEMBER_STATUSES]
        for partner in self:
            by_audience = {}
            for member in partner.mailchimp_member_ids:
                known = by_audience.get(member.audience_id)
                if known is None or order.index(member.status) < order.index(known):
                    by_audience[member.audience_id] = member.status
            partner.mailchimp_audience_count = len(by_audience)
            partner.mailchimp_status_detail = " · ".join(
                f"{audience.name}: {labels.get(status, status)}"
                for audience, status in sorted(
                    by_audience.items(), key=lambda item: item[0].name or ""
                )
            )

    # email activity (F27, F28)
    mailchimp_activity_count = fields.Integer(
        compute="_compute_mailchimp_activity_count",
        string="Email Activity",
        groups="mailchimp_connector.group_mailchimp_user",
    )

    def _compute_mailchimp_activity_count(self):
        counts = dict(
            self.env["mailchimp.activity"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.mailchimp_activity_count = counts.get(partner, 0)

    def action_open_mailchimp_activity(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_activity_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    # GDPR marketing permissions
    mailchimp_consent_ids = fields.One2many(
        "mailchimp.member.consent",
        "partner_id",
        string="Mailchimp Marketing Permissions",
        groups="mailchimp_connector.group_mailchimp_user",
    )

    # the sync's default segment leaves these out
    mailchimp_is_internal = fields.Boolean(
        string="Own Company or Internal User",
        compute="_compute_mailchimp_is_internal",
        search="_search_mailchimp_is_internal",
        help="The contact of one of your companies, or of an internal user: left "
        "out of a Mailchimp sync's default segment.",
    )

    def _compute_mailchimp_is_internal(self):
        internal = self._mailchimp_internal_kinds()
        for partner in self:
            partner.mailchimp_is_internal = partner.id in internal

    def _mailchimp_internal_kinds(self):
        """{partner id: "company" | "user"} for those of these contacts that are
        one of your companies or an internal user (two queries)."""
        if not self:
            return {}
        companies = self.env["res.company"].sudo().with_context(active_test=False)
        company_partners = companies.search([]).partner_id.ids
        users = (
            self.sudo()
            .with_context(active_test=False)
            .search([("id", "in", self.ids), ("partner_share", "=", False)])
        )
        kinds = dict.fromkeys(users.ids, "user")
        mine = set(self.ids)
        kinds.update((pid, "company") for pid in company_partners if pid in mine)
        return kinds

    def _search_mailchimp_is_internal(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(
                self.env._("Own Company or Internal User: search for set or not set.")
            )
        companies = self.env["res.company"].sudo().with_context(active_test=False)
        internal = [
            "|",
            ("id", "in", companies.search([]).partner_id.ids),
            ("partner_share", "=", False),
        ]
        if (operator == "=") == value:
            return internal
        return ["!", *internal]

    # ------------------------------------------------------------------
    # Actions on contacts: Add to Mailchimp…, Sync with Mailchimp now, Refresh
    # Mailchimp activity (server actions in the Action menu, automation rules,
    # code). Each checks its group itself: a server action can be run from code.
    # ------------------------------------------------------------------

    _MAILCHIMP_MANAGER = "mailchimp_connector.group_mailchimp_manager"
    _MAILCHIMP_USER = "mailchimp_connector.group_mailchimp_user"

    def _mailchimp_check_group(self, group):
        if not self.env.su and not self.env.user.has_group(group):
            raise AccessError(
                self.env._(
                    "This Mailchimp action is for %s only.",
                    self.env.ref(group).full_name,
                )
            )

    def action_mailchimp_add(self):
        """Add to Mailchimp…: the wizard for these contacts (administrators)."""
        self._mailchimp_check_group(self._MAILCHIMP_MANAGER)
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_partner_add_action"
        )
        action["context"] = {"active_model": "res.partner", "active_ids": self.ids}
        return action

    def mailchimp_add_to_sync(self, pairing):
        """Add these contacts to ``pairing`` (a ``mailchimp.pairing``) and send them
        now in the background, without the wizard: for automation rules and code
        (administrators). Returns the run."""
        self._mailchimp_check_group(self._MAILCHIMP_MANAGER)
        return pairing._add_contacts(self)

    def action_mailchimp_sync_now(self):
        """Sync these contacts now, both ways as each of their active syncs says,
        in the background: one run per sync, limited to them (administrators)."""
        self._mailchimp_check_group(self._MAILCHIMP_MANAGER)
        pairings = self.env["mailchimp.pairing"].search([("state", "=", "active")])
        runs = pairings._sync_contacts(self)
        Account = self.env["mailchimp.account"]
        if not runs:
            return Account._notification(
                self.env._(
                    "None of these contacts belongs to an active Mailchimp sync."
                ),
                "warning",
                reload=False,
            )
        return Account._notification(
            self.env._(
                "%(count)s contacts are being synced with Mailchimp (%(syncs)s); the "
                "result shows in each sync's history.",
                count=len(runs.partner_ids),
                syncs=", ".join(runs.pairing_id.mapped("name")),
            ),
            reload=False,
        )

    def action_mailchimp_refresh_activity(self):
        """Pull the email activity of these contacts' audiences now, in the
        background (Mailchimp users: a salesperson about to call a customer)."""
        self._mailchimp_check_group(self._MAILCHIMP_USER)
        audiences = (
            self.env["mailchimp.member"]
            .search([("partner_id", "in", self.ids)])
            .audience_id.filtered(lambda a: a.account_id.state == "connected")
        )
        Account = self.env["mailchimp.account"]
        if not audiences:
            return Account._notification(
                self.env._(
                    "None of these contacts is a member of an audience of a connected "
                    "Mailchimp account."
                ),
                "warning",
                reload=False,
            )
        # the activity pull's worker, woken now (people may not run it
        # themselves); they are told when it is done
        audiences.account_id._request_activity_pull()
        return Account._notification(
            self.env._(
                "The email activity of %s is being pulled from Mailchimp in the "
                "background; it shows in the contacts' chatter in a few moments, "
                "and you will be told here when it is done.",
                ", ".join(audiences.mapped("name")),
            ),
            reload=False,
        )

    # ------------------------------------------------------------------
    # Unsubscribe, forget (GDPR erasure), lifecycle
    # ------------------------------------------------------------------
    mailchimp_forgotten = fields.Boolean(
        string="Forgotten in Mailchimp",
        readonly=True,
        copy=False,
        groups="mailchimp_connector.group_mailchimp_user",
        help="Erased from Mailchimp at the person's request (GDPR): no sync, pull or "
        "webhook adds this contact or its address to Mailchimp again. Only a "
        "Mailchimp administrator can lift it.",
    )
    mailchimp_forgotten_date = fields.Datetime(
        string="Forgotten on",
        readonly=True,
        copy=False,
        groups="mailchimp_connector.group_mailchimp_user",
    )

    def write(self, vals):
        """Lifting the forgotten mark is an administrator's decision: it lets the
        syncs add the person to Mailchimp again."""
        if (
            "mailchimp_forgotten" in vals
            and not vals["mailchimp_forgotten"]
            and not self.env.su
            and not self.env.user.has_group(
                "mailchimp_connector.group_mailchimp_manager"
            )
            and self.sudo().filtered("mailchimp_forgotten")
        ):
            raise AccessError(
                self.env._(
                    "Only a Mailchimp administrator can allow a contact forgotten in "
                    "Mailchimp to be synced again."
                )
            )
        return super().write(vals)

    def action_mailchimp_unsubscribe(self):
        """The Unsubscribe from Mailchimp wizard on these contacts (Mailchimp
        users: a salesperson records a customer's request)."""
        return self._mailchimp_optout_wizard(
            "mailchimp.partner.unsubscribe", "mailchimp_connector.group_mailchimp_user"
        )

    def action_mailchimp_forget(self):
        """The Forget in Mailchimp (GDPR erasure) wizard on these contacts
        (Mailchimp administrators)."""
        return self._mailchimp_optout_wizard(
            "mailchimp.partner.forget", "mailchimp_connector.group_mailchimp_manager"
        )

    def _mailchimp_optout_wizard(self, model, group):
        self._mailchimp_check_group(group)
        wizard = self.env[model].create({"partner_ids": [Command.set(self.ids)]})
        return {
            "type": "ir.actions.act_window",
            "name": wizard._description,
            "res_model": model,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_mailchimp_unforget(self):
        """Let the syncs add these contacts to Mailchimp again (administrators)."""
        self._mailchimp_check_group(self._MAILCHIMP_MANAGER)
        forgotten = self.filtered("mailchimp_forgotten")
        forgotten.write(
            {"mailchimp_forgotten": False, "mailchimp_forgotten_date": False}
        )
        body = self.env._(
            "%(user)s allowed the Mailchimp syncs to add this contact again.",
            user=self.env.user.name,
        )
        forgotten._message_log_batch(bodies=dict.fromkeys(forgotten.ids, body))

    def _mailchimp_members(self):
        """{contact: its members} in every sync and audience, with sudo: those
        linked to it and those of its address (the same person in Mailchimp),
        found in one query. The engine's opt-outs act on these."""
        by_email = {}
        for partner in self:
            if partner.email_normalized:
                by_email.setdefault(partner.email_normalized, partner)
        domain = [("partner_id", "in", self.ids)]
        if by_email:
            domain = ["|", *domain, ("email", "in", list(by_email))]
        members = self.env["mailchimp.member"].sudo().search(domain, order="id")
        found = {partner: members.browse() for partner in self}
        for member in members:
            partner = member.partner_id if member.partner_id in self else None
            partner = partner or by_email.get(member.email)
            if partner:
                found[partner.with_env(self.env)] |= member
        return found

    # ------------------------------------------------------------------
    # tags and events sent by Automation Rules (mailchimp.contact.event)
    mailchimp_event_ids = fields.One2many(
        "mailchimp.contact.event",
        "partner_id",
        string="Mailchimp Events",
        groups="mailchimp_connector.group_mailchimp_user",
    )
    mailchimp_event_count = fields.Integer(
        compute="_compute_mailchimp_event_count",
        groups="mailchimp_connector.group_mailchimp_user",
    )

    def _compute_mailchimp_event_count(self):
        counts = dict(
            self.env["mailchimp.contact.event"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.mailchimp_event_count = counts.get(partner, 0)

    def action_open_mailchimp_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_contact_event_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"search_default_partner_id": self.id}
        return action
