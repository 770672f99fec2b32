# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..engine.optout import MemberOptOut

# failure lines a notification shows; the rest are counted
SHOWN_FAILURES = 10


class MailchimpPartnerUnsubscribe(models.TransientModel):
    """Unsubscribe contacts in every audience where they are members, at a
    person's request. Salespeople record it, so it is open to Mailchimp users."""

    _name = "mailchimp.partner.unsubscribe"
    _description = "Unsubscribe from Mailchimp"

    partner_ids = fields.Many2many("res.partner", string="Contacts", required=True)
    # required on the form; checked again when confirmed (the form opens empty)
    reason = fields.Text(
        help="Why the person asked, as it will read in each contact's chatter.",
    )
    audience_names = fields.Char(string="Audiences", compute="_compute_audience_names")

    @api.depends("partner_ids")
    def _compute_audience_names(self):
        for wizard in self:
            wizard.audience_names = _audience_names(wizard.partner_ids)

    def action_confirm(self):
        self.ensure_one()
        self.partner_ids._mailchimp_check_group(
            "mailchimp_connector.group_mailchimp_user"
        )
        reason = (self.reason or "").strip()
        if not reason:
            raise UserError(self.env._("Say why the person asked to be unsubscribed."))
        found = self.partner_ids._mailchimp_members()
        members = self.env["mailchimp.member"].sudo().union(*found.values())
        result = MemberOptOut(members).unsubscribe()
        failed = result.failed_members()
        bodies, changed, outside = {}, 0, 0
        when = fields.Datetime.to_string(fields.Datetime.now())
        for partner, its_members in found.items():
            if not its_members:
                outside += 1
                continue
            done = its_members & result.done
            if not done and its_members & failed:
                continue  # nothing happened: the notification says why
            changed += bool(done)
            audiences = (done or its_members).audience_id.mapped("name")
            text = self.env._(
                "Unsubscribed from Mailchimp (audiences: %(audiences)s) by %(user)s "
                "on %(date)s UTC. Reason: %(reason)s",
                audiences=", ".join(sorted(set(audiences))),
                user=self.env.user.name,
                date=when,
                reason=reason,
            )
            bodies[partner.id] = Markup("<p>%s</p>") % text
        self.partner_ids.browse(list(bodies))._message_log_batch(bodies=bodies)
        return _result_notification(
            self.env,
            self.env._(
                "Unsubscribed from Mailchimp: %(contacts)s contacts; memberships "
                "changed: %(members)s, already out: %(already)s; in no audience: "
                "%(outside)s.",
                contacts=changed,
                members=len(result.done),
                already=len(result.unchanged),
                outside=outside,
            ),
            result,
        )


def _audience_names(partners):
    """The audiences the contacts are members of, for the wizard to name them."""
    found = partners._mailchimp_members()
    members = partners.env["mailchimp.member"].sudo().union(*found.values())
    return ", ".join(sorted(set(members.audience_id.mapped("name"))))


def _result_notification(env, message, result):
    """A notification of what Mailchimp did and, when it refused some, why."""
    lines = [message]
    for member, reason in result.failures[:SHOWN_FAILURES]:
        lines.append(
            env._(
                "%(email)s (%(audience)s): %(reason)s",
                email=member.email,
                audience=member.audience_id.name,
                reason=reason,
            )
        )
    if len(result.failures) > SHOWN_FAILURES:
        lines.append(
            env._("and %s more refused.", len(result.failures) - SHOWN_FAILURES)
        )
    return env["mailchimp.account"]._notification(
        "\n".join(lines), "warning" if result.failures else "success"
    )
