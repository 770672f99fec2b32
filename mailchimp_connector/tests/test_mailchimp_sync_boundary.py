# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The member walk and its watermark lose nothing and read
nothing twice whatever ``since_last_changed`` means at its boundary second, and a
member a full read did not see is archived only once Mailchimp confirms it.

The class runs under the sandbox's documented behaviour (``since_*`` exclusive,
archived members listed only with ``status=archived``, one second's members in
change order) and under the alternatives (subclasses ``...Inclusive``: since
inclusive, archived members listed; ``...ById``: archived members listed, one
second's members ordered by id). Every combination of the switches is walked by
the pure tests (tests/test_client_member_walk.py).
"""

import time
from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from odoo.tests import tagged

from ..utils.mailchimp_client import MailchimpClient
from ..utils.mailchimp_keys import subscriber_hash
from ..utils.sync_rules import mark_second, mark_text
from .common import ALTERNATIVE_BEHAVIOUR, behaviour_variants
from .test_mailchimp_sync_rules import SyncRulesCase


@tagged("post_install", "-at_install")
@behaviour_variants(
    ALTERNATIVE_BEHAVIOUR,  # since inclusive, archived members listed with the others
    # since exclusive with archived members listed, one second's members by id
    ("ById", {"same_second_order": "id", "archived_listed": True}),
)
class TestSyncBoundary(SyncRulesCase):
    """Page boundaries, same-second changes and the full run's archiving."""

    def setUp(self):
        super().setUp()
        # the frozen clock below stamps changes with a second that may be long gone
        # by the time a slow machine reads them: keep such a second unsettled
        self.env["ir.config_parameter"].sudo().set_param(
            "mailchimp_connector.watermark_margin_seconds", "3600"
        )

    # -- helpers ---------------------------------------------------------------

    @contextmanager
    def one_second(self):
        """Every change made inside carries one
        and the same second (an import, a push)."""
        self.sandbox_control("POST", "clock", {"frozen": True})
        try:
            yield
        finally:
            self.sandbox_control("POST", "clock", {"frozen": False})

    def seed(self, count, **extra):
        self.sandbox_control(
            "POST", f"lists/{self.list_id}/seed", dict({"count": count}, **extra)
        )

    def pull_pairing(self):
        return self.make_pairing(
            direction="mailchimp2odoo",
            create_missing=True,
            default_owner_id=self.owner.id,
        )

    def seeded_contacts(self):
        return (
            self.env["res.partner"]
            .with_context(active_test=False)
            .search_count([("email", "=like", "member%@seed-mail.com")])
        )

    def due_full_run(self, pairing):
        pairing._sync_cursor().last_full_sync_date -= timedelta(
            days=pairing.full_sync_days
        )
        run = pairing.run_sync()
        self.assertTrue(run.full)
        self.assertRunDone(run)
        return run

    @contextmanager
    def listing_without(self, emails=(), extra_total=0):
        """Mailchimp's member listings leave ``emails`` out (their total too), and
        claim ``extra_total`` more members than they serve."""
        hidden = {subscriber_hash(email) for email in emails}
        real = MailchimpClient._call

        def call(client, method, path, params=None, *args, **kwargs):
            body, response = real(client, method, path, params, *args, **kwargs)
            if method == "GET" and path.endswith("/members") and isinstance(body, dict):
                members = body.get("members") or []
                kept = [m for m in members if m.get("id") not in hidden]
                body["members"] = kept
                if "total_items" in body:
                    body["total_items"] += extra_total - (len(members) - len(kept))
            return body, response

        with patch.object(MailchimpClient, "_call", call):
            yield

    def member_reads(self):
        """Single-member GETs (the confirmations of a full run)."""
        prefix = f"/lists/{self.list_id}/members/"
        return [
            c
            for c in self.api_calls()
            if c["method"] == "GET" and c["api_path"].startswith(prefix)
        ]

    def batch_jobs(self):
        jobs = self.client.get("/batches", params={"count": 1000})["batches"]
        return [
            job["total_operations"]
            for job in sorted(jobs, key=lambda j: j["submitted_at"])
        ]

    # -- page boundaries ---------------------------------------------------------

    def test_1001_members_each_in_its_own_second_all_pulled(self):
        self.seed(1001, spread_seconds=1001)
        pairing = self.pull_pairing()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(self.seeded_contacts(), 1001)
        self.assertEqual(run.created_count, 1001)
        self.assertEqual(len(pairing.member_ids), 1001)

    def test_2501_members_of_one_import_second_all_pulled(self):
        self.seed(2501)  # no spread: one import, every member carries its second
        pairing = self.pull_pairing()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(self.seeded_contacts(), 2501)
        self.assertEqual(run.created_count, 2501)
        self.assertEqual(len(pairing.member_ids), 2501)
        # an incremental run afterwards reads the import's second again (it is not
        # settled) and finds nothing new
        again = pairing.run_sync()
        self.assertRunDone(again)
        self.assertEqual(again.created_count + again.updated_count, 0)
        self.assertEqual(self.seeded_contacts(), 2501)

    def test_a_change_in_the_second_of_the_last_change_read_reaches_odoo(self):
        pairing = self.pull_pairing()
        with self.one_second():
            self.mailchimp_put("first@corp.com", FNAME="First")
            self.mailchimp_put("second@corp.com", FNAME="Second")
            self.assertRunDone(pairing.run_sync())
            self.assertEqual(self.partners_with_email("first@corp.com").name, "First")
            # stamped with the second of the newest change the run has read
            self.mailchimp_put("first@corp.com", FNAME="Changed")
        self.assertEqual(
            self.mc_member("first@corp.com")["last_changed"],
            self.mc_member("second@corp.com")["last_changed"],
        )
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(self.partners_with_email("first@corp.com").name, "Changed")
        self.assertEqual(run.updated_count, 1)

    # -- the full run ------------------------------------------------------------

    def test_full_run_after_a_one_second_push_of_2000_archives_nothing(self):
        partners = self.contacts(
            [
                {"email": f"push{i:04d}@corp.com", "name": f"Push {i}"}
                for i in range(2000)
            ]
        )
        pairing = self.make_pairing(direction="both")
        with self.one_second():
            self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(pairing.member_ids), 2000)
        run = self.due_full_run(pairing)
        archived = pairing.member_ids.filtered(lambda m: m.status == "archived")
        self.assertEqual(len(archived), 0)
        self.assertEqual(set(pairing.member_ids.mapped("status")), {"subscribed"})
        self.assertEqual(pairing.member_ids.partner_id, partners)
        # and the next change of any of them is still pushed
        partners[1500].name = "Still Pushed"
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            self.mc_member("push1500@corp.com")["merge_fields"]["FNAME"], "Still"
        )
        self.assertFalse(run.failure_ids)

    def test_full_run_over_an_unchanged_audience_writes_nothing(self):
        self.seed(
            1500, spread_seconds=3000, merge_fields={"FNAME": "Seed", "LNAME": "No{n}"}
        )
        pairing = self.make_pairing(
            direction="both", create_missing=True, default_owner_id=self.owner.id
        )
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.seeded_contacts(), 1500)
        partners = pairing.member_ids.partner_id
        self.assertEqual(len(partners), 1500)
        partners_written = dict(partners.mapped(lambda p: (p.id, p.write_date)))
        members = {m.id: (m.status, m.synced_values) for m in pairing.member_ids}
        self.sandbox_control("DELETE", "requests")
        run = self.due_full_run(pairing)
        self.assertEqual(run.created_count + run.updated_count, 0)
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])
        self.assertEqual(self.member_reads(), [])  # nobody to confirm
        self.assertEqual(
            dict(partners.mapped(lambda p: (p.id, p.write_date))), partners_written
        )
        self.assertEqual(
            {m.id: (m.status, m.synced_values) for m in pairing.member_ids}, members
        )

    def test_member_deleted_for_good_is_archived_once_mailchimp_confirms_it(self):
        kept, erased = self.contacts(
            [{"email": "kept@corp.com"}, {"email": "erased@corp.com"}]
        )
        pairing = self.make_pairing(direction="both")
        self.assertRunDone(pairing.run_sync())
        self.client.post(
            self.member_path("erased@corp.com") + "/actions/delete-permanent"
        )
        self.sandbox_control("DELETE", "requests")
        self.due_full_run(pairing)
        statuses = {m.email: m.status for m in pairing.member_ids}
        self.assertEqual(
            statuses, {"kept@corp.com": "subscribed", "erased@corp.com": "archived"}
        )
        # confirmed with Mailchimp: one read of that member, which answered 404
        reads = self.member_reads()
        self.assertEqual(
            [r["api_path"].rsplit("/", 1)[1] for r in reads],
            [subscriber_hash("erased@corp.com")],
        )
        self.assertEqual(reads[0]["status"], 404)
        self.assertTrue((kept | erased).exists())

    def test_member_missing_from_the_listing_is_confirmed_not_archived(self):
        shown, hidden = self.contacts(
            [
                {"email": "shown@corp.com", "name": "Shown One"},
                {"email": "hidden@corp.com", "name": "Hidden One"},
            ]
        )
        pairing = self.make_pairing(direction="both")
        self.assertRunDone(pairing.run_sync())
        self.client.patch(
            self.member_path("hidden@corp.com"),
            json={"merge_fields": {"FNAME": "Seen"}},
        )
        self.sandbox_control("DELETE", "requests")
        with self.listing_without(["hidden@corp.com"]):
            run = self.due_full_run(pairing)
        member = pairing.member_ids.filtered(lambda m: m.email == "hidden@corp.com")
        self.assertEqual(member.status, "subscribed")
        self.assertEqual(member.last_seen_run_id, run)
        # the member Mailchimp answered for went through the pull's merge
        self.assertEqual(hidden.name, "Seen One")
        self.assertEqual(len(self.member_reads()), 1)

    def test_many_missing_members_are_confirmed_by_one_batches_job(self):
        partners = self.contacts(
            [{"email": f"many{i:02d}@corp.com", "name": f"Many {i}"} for i in range(20)]
        )
        pairing = self.make_pairing(direction="both")
        self.assertRunDone(pairing.run_sync())
        erased = [f"many{i:02d}@corp.com" for i in (0, 1)]
        for email in erased:
            self.client.post(self.member_path(email) + "/actions/delete-permanent")
        hidden = [f"many{i:02d}@corp.com" for i in range(2, 14)]
        self.sandbox_control("DELETE", "requests")
        with self.listing_without(hidden):
            self.due_full_run(pairing)
        self.assertEqual(self.member_reads(), [])
        self.assertEqual(self.batch_jobs(), [14])  # one job of 14 GETs
        statuses = {m.email: m.status for m in pairing.member_ids}
        self.assertEqual(
            {e for e, s in statuses.items() if s == "archived"}, set(erased)
        )
        self.assertEqual(pairing.member_ids.partner_id, partners)

    def test_a_confirmation_job_outlasting_the_pass_is_read_by_the_next_one(self):
        self.contacts([{"email": f"slow{i:02d}@corp.com"} for i in range(12)])
        pairing = self.make_pairing(direction="both")
        self.assertRunDone(pairing.run_sync())
        self.client.post(
            self.member_path("slow00@corp.com") + "/actions/delete-permanent"
        )
        hidden = [f"slow{i:02d}@corp.com" for i in range(1, 12)]
        self.sandbox_control("POST", "batches/config", {"paused": True})
        self.addCleanup(
            self.sandbox_control, "POST", "batches/config", {"paused": False}
        )
        pairing._sync_cursor().last_full_sync_date -= timedelta(
            days=pairing.full_sync_days
        )
        with self.listing_without(hidden):
            run = pairing.run_sync(deadline=time.monotonic() + 3)
            self.assertTrue(run.full)
            self.assertEqual(run.state, "running")
            self.assertTrue(run.push_batch_id)
            self.assertEqual(set(pairing.member_ids.mapped("status")), {"subscribed"})
            self.sandbox_control("POST", "batches/config", {"paused": False})
            self.assertEqual(pairing.run_sync(), run)
        self.assertRunDone(run)
        self.assertFalse(run.push_batch_id)
        # its answers were read, not asked again
        self.assertEqual(self.batch_jobs(), [12])
        archived = pairing.member_ids.filtered(lambda m: m.status == "archived")
        self.assertEqual(archived.mapped("email"), ["slow00@corp.com"])

    def test_a_filter_seen_keeping_its_own_second_is_remembered(self):
        pairing = self.pull_pairing()
        self.mailchimp_put("early@corp.com", FNAME="Early")
        self.assertRunDone(pairing.run_sync())
        # a full read asks no since
        self.assertFalse(self.account.sudo().since_semantics)
        # the next run must read from the second after early@'s change: it asks from
        # early@'s second, which only an inclusive filter lists
        second = mark_second(self.mc_member("early@corp.com")["last_changed"])
        pairing._sync_cursor().mailchimp_watermark = mark_text(second + 1)
        self.sandbox_control("DELETE", "requests")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.progress_done, 0)  # early@ itself is older: dropped
        query = self.member_gets()[0]["query"]
        self.assertEqual(query["since_last_changed"], mark_text(second))
        inclusive = self.sandbox_behaviour.get("since") == "inclusive"
        learnt = {"since_last_changed": "inclusive"} if inclusive else False
        self.assertEqual(self.account.sudo().since_semantics, learnt)
        # from then on the pulls ask from the first second they want
        pairing._sync_cursor().mailchimp_watermark = mark_text(second + 1)
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync())
        query = self.member_gets()[0]["query"]
        self.assertEqual(
            query["since_last_changed"], mark_text(second + (1 if inclusive else 0))
        )

    def test_an_incomplete_read_archives_nothing_and_says_so(self):
        self.contacts([{"email": "kept@corp.com"}, {"email": "erased@corp.com"}])
        pairing = self.make_pairing(direction="both")
        self.assertRunDone(pairing.run_sync())
        self.client.post(
            self.member_path("erased@corp.com") + "/actions/delete-permanent"
        )
        self.sandbox_control("DELETE", "requests")
        # Mailchimp claims one member more than it serves
        with self.listing_without(extra_total=1):
            run = self.due_full_run(pairing)
        self.assertEqual(set(pairing.member_ids.mapped("status")), {"subscribed"})
        self.assertEqual(self.member_reads(), [])
        self.assertIn("incomplete", run.message or "")
