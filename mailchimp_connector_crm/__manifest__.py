# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Mailchimp Connector - CRM",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "summary": "New Mailchimp subscribers as leads, email engagement as "
    "activities for the salesperson",
    "author": "Mailchimp Connector contributors",
    "website": "https://github.com/mailchimp-connector/mailchimp_connector",
    "license": "LGPL-3",
    "depends": ["mailchimp_connector", "crm"],
    "data": [
        "security/ir.model.access.csv",
        "data/utm_data.xml",
        "views/mailchimp_pairing_views.xml",
        "views/mailchimp_sync_run_views.xml",
        "views/crm_lead_views.xml",
        "views/res_partner_views.xml",
    ],
    "auto_install": True,
    "installable": True,
}
