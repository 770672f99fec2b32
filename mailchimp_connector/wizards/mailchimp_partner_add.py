# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..utils import audience_preview

PUSHING_SYNCS = [
    ("state", "in", ("draft", "active")),
    ("direction", "!=", "mailchimp2odoo"),
]


class MailchimpPartnerAdd(models.TransientModel):
    """Add to Mailchimp…: the selected contacts join a sync's segment (its added
    contacts) and are sent at once, in bulk; what they would become is shown
    before anything is sent."""

    _name = "mailchimp.partner.add"
    _description = "Add Contacts to Mailchimp"

    partner_ids = fields.Many2many(
        "res.partner",
        "mailchimp_partner_add_partner_rel",
        "wizard_id",
        "partner_id",
        string="Contacts",
        default=lambda self: self._default_partners(),
    )
    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        required=True,
        domain=PUSHING_SYNCS,
        default=lambda self: self._default_pairing(),
        help="Syncs that send to Mailchimp, active or not started yet.",
    )
    pairing_state = fields.Selection(related="pairing_id.state")
    audience_id = fields.Many2one(related="pairing_id.audience_id")
    partner_count = fields.Integer(compute="_compute_preview", string="Selected")
    new_count = fields.Integer(compute="_compute_preview", string="New to the audience")
    member_count = fields.Integer(compute="_compute_preview", string="Already members")
    optout_count = fields.Integer(compute="_compute_preview", string="Opted out")
    invalid_count = fields.Integer(
        compute="_compute_preview", string="Invalid email", help="No or bad email."
    )
    duplicate_count = fields.Integer(
        compute="_compute_preview",
        string="Duplicates by email",
        help="Another selected or linked contact has the same address: one of them "
        "is synced, the others are reported.",
    )
    forgotten_count = fields.Integer(
        compute="_compute_preview",
        string="Forgotten in Mailchimp",
        help="Erased from Mailchimp at the person's request: never sent.",
    )
    optout_policy = fields.Selection(related="pairing_id.optout_new_policy")

    def _default_partners(self):
        context = self.env.context
        if context.get("active_model") == "res.partner":
            return [fields.Command.set(context.get("active_ids") or [])]
        return []

    def _default_pairing(self):
        pairings = self.env["mailchimp.pairing"].search(PUSHING_SYNCS, limit=2)
        return pairings if len(pairings) == 1 else False

    @api.depends("pairing_id", "partner_ids")
    def _compute_preview(self):
        for wizard in self:
            counts = wizard._preview()
            wizard.partner_count = len(wizard.partner_ids)
            wizard.new_count = counts.new if counts else 0
            wizard.member_count = counts.members if counts else 0
            wizard.optout_count = counts.opted_out if counts else 0
            wizard.invalid_count = counts.invalid if counts else 0
            wizard.duplicate_count = counts.duplicates if counts else 0
            wizard.forgotten_count = counts.forgotten if counts else 0

    def _preview(self):
        """The counts (``audience_preview.Preview``) for the selection, from what
        Odoo knows of the audience: three queries whatever its size."""
        pairing, partners = self.pairing_id, self.partner_ids
        if not pairing or not partners:
            return None
        partners = partners.with_context(active_test=False)
        partners.fetch(["email", "email_normalized", "mailchimp_forgotten"])
        emails = [email for email in partners.mapped("email_normalized") if email]
        blacklisted = set(
            self.env["mail.blacklist"]
            .sudo()
            .search([("email", "in", emails)])
            .mapped("email")
        )
        members = self.env["mailchimp.member"].search_fetch(
            [
                ("audience_id", "=", pairing.audience_id.id),
                ("status", "!=", "archived"),
                "|",
                ("email", "in", emails),
                ("partner_id", "in", partners.ids),
            ],
            ["email", "partner_id"],
        )
        return audience_preview.preview(
            [
                audience_preview.Contact(
                    partner.id,
                    partner.email,
                    partner.email_normalized in blacklisted,
                    partner.mailchimp_forgotten,
                )
                for partner in partners
            ],
            member_emails=members.mapped("email"),
            member_ids=members.partner_id.ids,
            optout_policy=pairing.optout_new_policy,
        )

    def action_confirm(self):
        """The contacts join the sync and are sent now, in the background."""
        self.ensure_one()
        pairing = self.pairing_id
        run = pairing._add_contacts(self.partner_ids)
        if run:
            message = self.env._(
                "Contacts added to %(sync)s: %(count)s. They are being sent to "
                "Mailchimp; the result shows in the sync's history.",
                count=len(self.partner_ids),
                sync=pairing.name,
            )
        else:
            message = self.env._(
                "Contacts added to %(sync)s: %(count)s. The sync has not started "
                "yet: its initial sync sends them.",
                count=len(self.partner_ids),
                sync=pairing.name,
            )
        action = self.env["mailchimp.account"]._notification(message, reload=False)
        action["params"]["next"] = {"type": "ir.actions.act_window_close"}
        return action
