# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

WAITING = ("wait_dependencies", "pending", "enqueued", "started")


class MailchimpSyncRun(models.Model):
    """A run done by queue jobs: its jobs done and waiting, on its form."""

    _inherit = "mailchimp.sync.run"

    # counted by the run itself (a job's row is queue_job's, written by its
    # worker's own transaction: never from the job's work)
    queue_job_done_count = fields.Integer(string="Jobs done", readonly=True)
    queue_job_waiting_count = fields.Integer(
        string="Jobs waiting",
        compute="_compute_queue_job_waiting_count",
        help="The sync's job queued or running now (channel root.mailchimp).",
    )

    def _compute_queue_job_waiting_count(self):
        Job = self.env["queue.job"].sudo()
        for run in self:
            run.queue_job_waiting_count = (
                Job.search_count(
                    [
                        ("identity_key", "=", f"mailchimp_sync_{run.pairing_id.id}"),
                        ("state", "in", WAITING),
                    ]
                )
                if run.state == "running" and run.pairing_id
                else 0
            )
