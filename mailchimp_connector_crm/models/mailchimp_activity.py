# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL

from odoo.addons.mailchimp_connector.utils.activity_events import staged_event


class MailchimpActivity(models.Model):
    """Engagement rules applied to each stored page of email activity."""

    _inherit = "mailchimp.activity"

    @api.model
    def _mailchimp_activity_stored(self, campaign, rows):
        res = super()._mailchimp_activity_stored(campaign, rows)
        rules = self.env["mailchimp.engagement.rule"].search(
            [("pairing_id.audience_id", "=", campaign.audience_id.id)]
        )
        if rules:
            fired = self._mailchimp_rules_fired(campaign, rules, rows)
            self._mailchimp_signal(campaign, fired)
        return res

    @api.model
    def _mailchimp_rules_fired(self, campaign, rules, rows):
        """{(partner id, rule)} for the page's events: a click rule on a matching
        link, an opens rule once the contact has its opens within its days
        (one query per opens rule for the whole page)."""
        fired, last_open = set(), {}
        clicks = [
            (r, r.url_pattern.strip().lower()) for r in rules if r.kind == "click"
        ]
        for partner_id, tail in rows:
            event = staged_event(tail)
            if event.action == "click" and event.url:
                url = event.url.lower()
                fired.update((partner_id, r) for r, pattern in clicks if pattern in url)
            elif event.action == "open":
                last_open[partner_id] = max(last_open.get(partner_id, ""), event.stamp)
        if not last_open:
            return fired
        self.flush_model(["partner_id", "action", "timestamp"])
        for rule in rules.filtered(lambda r: r.kind == "opens"):
            self.env.cr.execute(
                SQL(
                    """
                    SELECT p.id
                      FROM unnest(%s::int[], %s::timestamp[]) AS p(id, last)
                      JOIN mailchimp_activity a ON a.partner_id = p.id
                     WHERE a.action = 'open'
                       AND a.timestamp > p.last - make_interval(days => %s)
                       AND a.timestamp <= p.last
                     GROUP BY p.id
                    HAVING count(*) >= %s
                    """,
                    list(last_open),
                    list(last_open.values()),
                    rule.open_days,
                    rule.open_count,
                )
            )
            fired.update((partner_id, rule) for (partner_id,) in self.env.cr.fetchall())
        return fired

    @api.model
    def _mailchimp_signal(self, campaign, fired):
        """Record each (contact, rule) of ``campaign`` once (unique key, safe
        between parallel writers) and, for those new, one to-do for the
        salesperson, on the contact's open lead if it has one (then for the
        lead's salesperson); leads take the
        campaign (first touch) and the rule's priority."""
        if not fired:
            return
        fired = sorted(fired, key=lambda pair: (pair[0], pair[1].id))
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO mailchimp_engagement_signal
                       (partner_id, rule_id, campaign_id, date)
                SELECT p, r, %s, %s FROM unnest(%s::int[], %s::int[]) AS s(p, r)
                ON CONFLICT (partner_id, rule_id, campaign_id) DO NOTHING
                RETURNING partner_id, rule_id
                """,
                campaign.id,
                fields.Datetime.now(),
                [partner_id for partner_id, _rule in fired],
                [rule.id for _partner_id, rule in fired],
            )
        )
        new = self.env.cr.fetchall()
        if not new:
            return
        partners = self.env["res.partner"].browse({p for p, _r in new})
        partners.fetch(["name", "user_id"])
        leads = self.env["crm.lead"]._mailchimp_open_leads(partners)
        lead_of = {}
        for lead in leads:
            lead_of.setdefault(lead.partner_id.id, lead)
        rules = self.env["mailchimp.engagement.rule"].browse({r for _p, r in new})
        Activity = self.env["mail.activity"].with_context(
            mail_activity_quick_update=True
        )
        todo = self.env.ref("mail.mail_activity_data_todo")
        for vals_list in self._mailchimp_rounds(
            self._mailchimp_activity_vals(
                campaign, partners.browse(p), rules.browse(r), lead_of.get(p), todo
            )
            for p, r in new
        ):
            Activity.create(vals_list)
        self._mailchimp_raise_leads(campaign, leads, rules, new)

    @api.model
    def _mailchimp_rounds(self, vals_list):
        """The to-dos in batches where each record appears once: Odoo 18's
        ``mail.activity.create`` subscribes the assignee once per to-do, and two
        to-dos on one record in one batch break the followers' unique key."""
        rounds, seen = [], {}
        for vals in vals_list:
            key = (vals["res_model_id"], vals["res_id"])
            index = seen.get(key, 0)
            seen[key] = index + 1
            if index == len(rounds):
                rounds.append([])
            rounds[index].append(vals)
        return rounds

    @api.model
    def _mailchimp_activity_vals(self, campaign, partner, rule, lead, activity_type):
        pairing = rule.pairing_id
        # who works the lead, else the contact's salesperson, else the sync's;
        # never an archived user (OdooBot) nobody reads the to-dos of
        candidates = (
            lead.user_id if lead else self.env["res.users"],
            partner.user_id,
            pairing.crm_user_id,
            pairing.default_owner_id,
        )
        user = next((u for u in candidates if u and u.active), None)
        subject = campaign.title or campaign.subject or ""
        if rule.kind == "click":
            summary = self.env._(
                "%(contact)s clicked %(rule)s in %(campaign)s",
                contact=partner.name,
                rule=rule.name,
                campaign=subject,
            )
        else:
            summary = self.env._(
                "%(contact)s opened %(count)s emails within %(days)s days "
                "(%(rule)s, %(campaign)s)",
                contact=partner.name,
                count=rule.open_count,
                days=rule.open_days,
                rule=rule.name,
                campaign=subject,
            )
        record = lead or partner
        vals = {
            "res_model_id": self.env["ir.model"]._get_id(record._name),
            "res_id": record.id,
            "activity_type_id": activity_type.id,
            "summary": summary[:255],
            "date_deadline": fields.Date.context_today(self),
        }
        if user:
            vals["user_id"] = user.id
        return vals

    @api.model
    def _mailchimp_raise_leads(self, campaign, leads, rules, new):
        """Open leads of the contacts that showed interest: the campaign that
        brought them (when they have none) and the rule's priority."""
        partner_priority = {}
        for partner_id, rule_id in new:
            priority = rules.browse(rule_id).lead_priority or "0"
            partner_priority[partner_id] = max(
                partner_priority.get(partner_id, "0"), priority
            )
        untracked = leads.filtered(lambda lead: not lead.campaign_id)
        if campaign.utm_campaign_id and untracked:
            untracked.write({"campaign_id": campaign.utm_campaign_id.id})
        by_priority = {}
        for lead in leads:
            priority = partner_priority.get(lead.partner_id.id, "0")
            if priority > (lead.priority or "0"):
                by_priority.setdefault(priority, []).append(lead.id)
        for priority, ids in by_priority.items():
            leads.browse(ids).write({"priority": priority})
