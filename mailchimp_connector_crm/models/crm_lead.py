# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup, escape

from odoo import api, models

# Mailchimp's default merge fields a lead shows in its own fields
NAME_TAGS = ("FNAME", "LNAME")
COMPANY_TAG = "COMPANY"
QUIET = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
    "mail_notrack": True,
}


class CrmLead(models.Model):
    _inherit = "crm.lead"

    @api.model
    def _mailchimp_open_leads(self, partners, emails=()):
        """The open (active, not won) leads of ``partners`` or of ``emails``, in one
        query: a contact never gets a second one from Mailchimp."""
        domain = [("partner_id", "in", partners.ids)]
        if emails:
            domain = ["|", *domain, ("email_normalized", "in", list(emails))]
        return self.search_fetch(
            [
                *domain,
                "|",
                ("stage_id", "=", False),
                ("stage_id.is_won", "=", False),
            ],
            ["partner_id", "email_normalized", "campaign_id", "priority", "user_id"],
        )

    @api.model
    def _mailchimp_leads_for(self, pairing, subscribed):
        """Leads for ``[(new contact, Mailchimp member)]`` of ``pairing``, in one
        create: in the sync's team, for its salesperson (none: Odoo's assignment),
        UTM source Mailchimp and medium the audience, the member's merge fields
        on the lead. Contacts with an open lead (by contact or address) get none."""
        partners = self.env["res.partner"].browse([p.id for p, _m in subscribed])
        partners.fetch(["name", "email_normalized", "phone", "user_id"])
        taken = self._mailchimp_open_leads(
            partners, {p.email_normalized for p in partners if p.email_normalized}
        )
        taken_partners = set(taken.partner_id.ids)
        taken_emails = set(taken.mapped("email_normalized"))
        utm = self.env["utm.mixin"]
        source = self.env.ref("mailchimp_connector_crm.utm_source_mailchimp")
        medium = utm._find_or_create_record(
            "utm.medium", pairing.audience_id.name or "Mailchimp"
        )
        lead_type = (
            "lead"
            if self.env.ref("crm.group_use_lead")
            in self.env.ref("base.group_user").trans_implied_ids
            else "opportunity"
        )
        # the first open stage, found once for the page (CRM looks for it per lead)
        stage = self._stage_find(
            team_id=pairing.crm_team_id.id, domain=[("fold", "=", False)]
        )
        vals_list, seen = [], set()
        for partner, member in subscribed:
            email = partner.email_normalized
            if partner.id in taken_partners or (email and email in taken_emails):
                continue
            if email and email in seen:
                continue
            seen.add(email)
            vals_list.append(
                self._mailchimp_lead_vals(partner, member, pairing, lead_type)
                | {"source_id": source.id, "medium_id": medium.id}
            )
        # phone and email come from the contact (setting them would write it back)
        leads = self.with_context(**QUIET, mailchimp_lead_stage_id=stage.id).create(
            vals_list
        )
        # computed now, while the context holds the stage (not at the next flush)
        leads.mapped("stage_id")
        return leads.with_context(mailchimp_lead_stage_id=False)

    @api.depends("team_id", "type")
    def _compute_stage_id(self):
        """Leads made from a Mailchimp page take the stage found once for it."""
        stage_id = self.env.context.get("mailchimp_lead_stage_id")
        if stage_id:
            for lead in self:
                if not lead.stage_id:
                    lead.stage_id = stage_id
        return super()._compute_stage_id()

    @api.model
    def _mailchimp_lead_vals(self, partner, member, pairing, lead_type):
        merge = member.get("merge_fields") or {}
        name = " ".join(str(merge[t]) for t in NAME_TAGS if merge.get(t)).strip()
        vals = {
            "name": self.env._("%s (Mailchimp sign-up)", name or partner.name),
            "type": lead_type,
            "partner_id": partner.id,
            "team_id": pairing.crm_team_id.id,
            "user_id": pairing.crm_user_id.id,
        }
        if name:
            vals["contact_name"] = name
        if merge.get(COMPANY_TAG):
            vals["partner_name"] = str(merge[COMPANY_TAG])
        shown = {tag: value for tag, value in merge.items() if value not in ("", None)}
        if shown:
            vals["description"] = Markup("<ul>%s</ul>") % Markup("").join(
                Markup("<li><b>%s</b>: %s</li>") % (tag, escape(str(value)))
                for tag, value in sorted(shown.items())
            )
        return vals
