# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo.tests import tagged

from .common import ALTERNATIVE_BEHAVIOUR, MailchimpSyncCase, behaviour_variants


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestMailchimpSyncBasics(MailchimpSyncCase):
    def test_initial_push_then_nothing_changed(self):
        partners = self.env["res.partner"].create(
            [
                {
                    "name": f"Ann Smith{i}",
                    "email": f"ann{i}@corp.com",
                    "phone": f"+3247000000{i}",
                }
                for i in range(5)
            ]
        )
        pairing = self.make_pairing(direction="odoo2mailchimp")
        run = pairing.run_sync()
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(run.created_count, 5)
        members = self.mailchimp_members()
        self.assertEqual(set(members), set(partners.mapped("email")))
        self.assertEqual(members["ann0@corp.com"]["merge_fields"]["FNAME"], "Ann")
        self.assertEqual(members["ann0@corp.com"]["merge_fields"]["LNAME"], "Smith0")
        self.assertEqual(members["ann0@corp.com"]["status"], "subscribed")
        self.assertEqual(len(pairing.member_ids), 5)
        # a second run where nothing changed sends nothing
        self.sandbox_control("DELETE", "requests")
        run2 = pairing.run_sync()
        self.assertEqual(run2.state, "done", run2.message)
        self.assertEqual(run2.created_count + run2.updated_count, 0)
        writes = [c for c in self.api_calls() if c["method"] != "GET"]
        self.assertEqual(writes, [])

    def test_a_contact_not_yet_a_member_is_pushed_however_old(self):
        """An incremental run also reads the contacts of the segment that are no
        member of the sync, even unchanged since before its mark (imported with
        an old date, say)."""
        self.env["res.partner"].create(
            [{"name": f"Ann Smith{i}", "email": f"ann{i}@corp.com"} for i in range(3)]
        )
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.assertEqual(pairing.run_sync().state, "done")
        late = self.env["res.partner"].create(
            {"name": "Old Timer", "email": "old.timer@corp.com"}
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE res_partner SET write_date = now() - interval '2 days' "
            "WHERE id = %s",
            [late.id],
        )
        late.invalidate_recordset()
        run = pairing.run_sync()
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(run.created_mailchimp_count, 1)
        self.assertIn("old.timer@corp.com", self.mailchimp_members())
        self.assertIn(late, pairing.member_ids.partner_id)
        self.assertEqual(len(pairing.member_ids), 4)

    def test_a_run_is_planned_without_jit(self):
        """A run's statements are planned without JIT compilation (see
        ``transactions.without_jit``)."""
        self.env["res.partner"].create({"name": "Ann", "email": "ann@corp.com"})
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.env.cr.execute("SET LOCAL jit = on")
        run = pairing.run_sync()
        self.assertEqual(run.state, "done", run.message)
        self.env.cr.execute("SHOW jit")
        self.assertEqual(self.env.cr.fetchone()[0], "off")

    def test_pull_creates_missing_contacts_with_owner(self):
        self.mailchimp_put("new.person@corp.com", FNAME="New", LNAME="Person")
        owner = self.env.ref("base.user_admin")
        pairing = self.make_pairing(
            direction="mailchimp2odoo", create_missing=True, default_owner_id=owner.id
        )
        run = pairing.run_sync()
        self.assertEqual(run.state, "done", run.message)
        partner = self.env["res.partner"].search(
            [("email", "=", "new.person@corp.com")]
        )
        self.assertEqual(partner.name, "New Person")
        self.assertEqual(partner.user_id, owner)
        self.assertEqual(pairing.member_ids.status, "subscribed")
        self.assertEqual(run.created_count, 1)

    def test_weekly_full_sync_sees_members_archived_in_mailchimp(self):
        partner = self.env["res.partner"].create(
            {"name": "Gone Soon", "email": "gone@corp.com"}
        )
        pairing = self.make_pairing(direction="both")
        self.assertTrue(pairing.run_sync().full)
        member = pairing.member_ids.filtered(lambda m: m.partner_id == partner)
        self.assertEqual(member.status, "subscribed")
        self.client.delete(f"/lists/{self.list_id}/members/{member.subscriber_hash}")
        # an incremental run cannot see an archive ...
        self.assertFalse(pairing.run_sync().full)
        # ... the periodic full run does, and deletes nothing in Odoo
        pairing._sync_cursor().last_full_sync_date -= timedelta(
            days=pairing.full_sync_days
        )
        run = pairing.run_sync()
        self.assertTrue(run.full)
        self.assertEqual(member.status, "archived")
        self.assertTrue(partner.exists())
