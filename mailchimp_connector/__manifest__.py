# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Mailchimp Connector",
    "version": "18.0.1.0.0",
    "category": "Marketing/Email Marketing",
    "summary": "Keep Odoo contacts and Mailchimp audiences in step, "
    "and see Mailchimp activity on each contact",
    "author": "Mailchimp Connector contributors",
    "website": "https://github.com/mailchimp-connector/mailchimp_connector",
    "license": "LGPL-3",
    "depends": ["mail", "contacts"],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/mailchimp_security.xml",
        "security/ir.model.access.csv",
        "views/mailchimp_account_views.xml",
        "views/mailchimp_audience_views.xml",
        "views/mailchimp_merge_field_views.xml",
        "views/mailchimp_pairing_views.xml",
        "views/mailchimp_sync_views.xml",
        "views/res_partner_views.xml",
        "data/ir_cron_data.xml",
        "wizards/mailchimp_account_reauthorize_views.xml",
        "views/mailchimp_menus.xml",
    ],
    "demo": ["demo/mailchimp_account_demo.xml"],
    "assets": {
        "web.assets_tests": ["mailchimp_connector/static/tests/tours/*.js"],
    },
    "application": True,
    "installable": True,
}
