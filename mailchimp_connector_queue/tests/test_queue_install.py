# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestQueueGlueInstall(TransactionCase):
    def test_installed_beside_queue_job_automatically(self):
        module = self.env["ir.module.module"].search(
            [("name", "=", "mailchimp_connector_queue")]
        )
        self.assertEqual(module.state, "installed")
        self.assertTrue(module.auto_install)
        self.assertEqual(
            set(module.dependencies_id.mapped("name")),
            {"mailchimp_connector", "queue_job"},
        )
        main = self.env["ir.module.module"].search(
            [("name", "=", "mailchimp_connector")]
        )
        self.assertNotIn("queue_job", main.dependencies_id.mapped("name"))

    def test_the_channel_and_the_job_functions(self):
        channel = self.env.ref("mailchimp_connector_queue.channel_mailchimp")
        self.assertEqual(channel.complete_name, "root.mailchimp")
        Function = self.env["queue.job.function"]
        for name in (
            "<mailchimp.pairing>._mailchimp_job_stretch",
            "<mailchimp.campaign>._mailchimp_job_activity",
        ):
            config = Function.job_config(name)
            self.assertEqual(config.channel, "root.mailchimp", name)
            # the engine commits chunk by chunk, in a cursor of the job's own
            self.assertTrue(config.allow_commit, name)
