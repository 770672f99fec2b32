# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Mailchimp Connector - Job Queue",
    "version": "18.0.1.0.0",
    "category": "Marketing/Email Marketing",
    "summary": "Mailchimp syncs and email activity as OCA queue_job jobs, run by "
    "every Odoo worker",
    "author": "Mailchimp Connector contributors",
    "website": "https://github.com/mailchimp-connector/mailchimp_connector",
    "license": "LGPL-3",
    "depends": ["mailchimp_connector", "queue_job"],
    "data": [
        "data/queue_job_data.xml",
        "views/mailchimp_sync_run_views.xml",
    ],
    "auto_install": True,
    "installable": True,
}
