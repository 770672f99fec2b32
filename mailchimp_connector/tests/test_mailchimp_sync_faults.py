# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Safety rules: bad input, faults, reruns, locking and scale (F30-F32)."""

import time
from unittest.mock import patch

from odoo.tests import tagged

from ..engine import push as push_step
from ..engine.push import PushStep
from ..engine.transactions import LOCK_SYNC
from ..utils import mailchimp_errors as mc_errors
from ..utils.mailchimp_keys import subscriber_hash
from .common import ALTERNATIVE_BEHAVIOUR, behaviour_variants
from .test_mailchimp_sync_rules import SyncRulesCase


def batch_subscribe_calls(calls, list_id):
    return [
        c
        for c in calls
        if c["method"] == "POST" and c["api_path"] == f"/lists/{list_id}"
    ]


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncBadInput(SyncRulesCase):
    """F32: a bad record becomes a failure line with its reason; the others sync."""

    def test_bad_emails_are_failure_lines_and_the_others_sync(self):
        good = self.contacts([{"email": f"good{i}@corp.com"} for i in range(3)])
        fake, invalid_tld, no_domain, broken = self.contacts(
            [
                {"email": "test@corp.com", "name": "Fake Local"},
                {"email": "someone@x.invalid", "name": "Fake Domain"},
                {"email": "ann@corp", "name": "No Domain"},
                {"email": "ann at corp dot com", "name": "Not An Address"},
            ]
        )
        pairing = self.make_pairing()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(
            sorted(self.mailchimp_members()),
            ["good0@corp.com", "good1@corp.com", "good2@corp.com"],
        )
        self.assertEqual(pairing.member_ids.partner_id, good)
        failed = self.failures(run, "failed")
        reasons = {failure.partner_id: failure.reason for failure in failed}
        self.assertEqual(set(reasons), {fake, invalid_tld, no_domain, broken}, reasons)
        self.assertIn("looks fake or invalid", reasons[fake])
        self.assertIn("looks fake or invalid", reasons[invalid_tld])
        self.assertIn("valid email address", reasons[no_domain])
        self.assertIn("ann at corp dot com", reasons[broken])
        self.assertIn("not a valid email address", reasons[broken])
        self.assertEqual(run.failed_count, 4)
        self.assertEqual(run.created_count, 3)

    def test_compliance_state_member_is_a_failure_line(self):
        # unsubscribed then archived in Mailchimp: subscribing it again is refused
        self.mailchimp_put("left@corp.com", "unsubscribed")
        self.client.delete(self.member_path("left@corp.com"))
        self.mailchimp_put("review@corp.com", FNAME="Review")
        self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/compliance",
            {"email": "review@corp.com", "flagged": True},
        )
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())  # links review@ (nothing in Odoo yet)
        left, review, fine = self.contacts(
            [
                {"email": "left@corp.com", "name": "Left Before"},
                {"email": "review@corp.com", "name": "Under Review"},
                {"email": "fine@corp.com", "name": "Fine Person"},
            ]
        )
        run = pairing.run_sync()
        self.assertRunDone(run)
        failure = self.failures(run).filtered(lambda f: f.kind in ("failed", "skipped"))
        self.assertEqual(failure.partner_id, left)
        if self.sandbox_behaviour.get("archived_listed"):
            # listed with the others, the archive (moments ago) was read by the pull:
            # the push does not even try to add the member back
            self.assertEqual(failure.kind, "skipped")
            self.assertIn("archived in Mailchimp", failure.reason)
        else:
            self.assertEqual(failure.kind, "failed")
            self.assertIn("compliance state", failure.reason)
        self.assertEqual(self.mc_member("left@corp.com")["status"], "archived")
        self.assertEqual(
            self.mc_member("review@corp.com")["merge_fields"]["FNAME"], "Under"
        )
        self.assertEqual(self.mc_member("review@corp.com")["status"], "subscribed")
        self.assertEqual(self.mc_member("fine@corp.com")["status"], "subscribed")
        linked = review | fine
        if self.sandbox_behaviour.get("archived_listed"):
            linked |= left  # linked to its archived member, as a full run does (F17)
        self.assertEqual(pairing.member_ids.partner_id, linked)

    def test_required_merge_field_missing(self):
        self.add_merge_field("JOB", "text", required=True)
        pairing = self.make_pairing()
        job = self.audience.merge_field_ids.filtered(lambda f: f.tag == "JOB")
        pairing.field_map_ids = [
            (
                0,
                0,
                {
                    "merge_field_id": job.id,
                    "odoo_field_id": self.env.ref(
                        "base.field_res_partner__function"
                    ).id,
                },
            )
        ]
        with_job = self.contacts(
            [{"email": f"job{i}@corp.com", "function": "Buyer"} for i in range(2)]
        )
        without = self.contact("nojob@corp.com", "No Job")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(pairing.member_ids.partner_id, with_job)
        self.assertEqual(
            self.mailchimp_members()["job0@corp.com"]["merge_fields"]["JOB"], "Buyer"
        )
        failure = self.failures(run, "failed")
        self.assertEqual(failure.partner_id, without)
        self.assertIn("JOB", failure.reason)
        self.assertIn("Please enter a value", failure.reason)
        # filled in Odoo: the next run sends it
        without.function = "Seller"
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEqual(run2.failed_count, 0, run2.failure_ids.mapped("reason"))
        self.assertEqual(
            self.mc_member("nojob@corp.com")["merge_fields"]["JOB"], "Seller"
        )
        # emptied in Odoo for an existing member: Mailchimp refuses that one update only
        with_job[0].function = False
        with_job[1].function = "Manager"
        run3 = pairing.run_sync()
        self.assertRunDone(run3)
        failure = self.failures(run3, "failed")
        self.assertEqual(failure.partner_id, with_job[0])
        self.assertIn("JOB", failure.reason)
        self.assertEqual(
            self.mc_member("job0@corp.com")["merge_fields"]["JOB"], "Buyer"
        )
        self.assertEqual(
            self.mc_member("job1@corp.com")["merge_fields"]["JOB"], "Manager"
        )

    def test_values_too_long_or_of_the_wrong_type(self):
        score = self.add_merge_field("SCORE", "text")
        pairing = self.make_pairing(conflict_winner="mailchimp")
        pairing.field_map_ids = [
            (
                0,
                0,
                {
                    "merge_field_id": score.id,
                    "odoo_field_id": self.env.ref("base.field_res_partner__color").id,
                },
            )
        ]
        long_name, bad_phone, fine = self.contacts(
            [
                {"email": "long@corp.com", "name": "Ann " + "x" * 300},
                {"email": "phone@corp.com", "name": "Bad Phone", "phone": "n/a"},
                {"email": "fine@corp.com", "name": "Fine Person", "color": 3},
            ]
        )
        # a Mailchimp member whose SCORE is not a number (Odoo's color is an integer)
        self.mailchimp_put("words@corp.com", FNAME="Words", SCORE="forty")
        words = self.contact("words@corp.com", "Words Person")
        run = pairing.run_sync()
        self.assertRunDone(run)
        reasons = {}
        for failure in self.failures(run, "failed"):
            reasons.setdefault(failure.partner_id, []).append(failure.reason)
        self.assertEqual(set(reasons), {long_name, bad_phone, words}, reasons)
        self.assertIn("LNAME", reasons[long_name][0])
        self.assertIn("300 characters long", reasons[long_name][0])
        self.assertIn("255", reasons[long_name][0])
        self.assertIn("PHONE", reasons[bad_phone][0])
        self.assertIn("'n/a' is not a phone number", reasons[bad_phone][0])
        self.assertIn("'forty' is not a number", " ".join(reasons[words]))
        self.assertEqual(words.color, 0)
        # Mailchimp's value stays there for a person
        # to fix; the rest of the contact synced
        words_member = self.mc_member("words@corp.com")
        self.assertEqual(words_member["merge_fields"]["SCORE"], "forty")
        self.assertEqual(words_member["merge_fields"]["LNAME"], "Person")
        self.assertEqual(pairing.member_ids.partner_id, fine | words)
        self.assertEqual(self.mc_member("fine@corp.com")["merge_fields"]["SCORE"], "3")
        self.assertEqual(
            sorted(self.mailchimp_members()), ["fine@corp.com", "words@corp.com"]
        )

    def test_a_bad_record_in_a_pull_does_not_stop_it(self):
        score = self.add_merge_field("SCORE", "number")
        self.mailchimp_put("a@corp.com", FNAME="Alpha", SCORE=1)
        self.mailchimp_put("b@corp.com", FNAME="Beta", SCORE=2.5)  # not a whole number
        self.mailchimp_put("c@corp.com", FNAME="Gamma", SCORE=3)
        pairing = self.make_pairing(
            direction="mailchimp2odoo",
            create_missing=True,
            default_owner_id=self.owner.id,
        )
        pairing.field_map_ids = [
            (
                0,
                0,
                {
                    "merge_field_id": score.id,
                    "odoo_field_id": self.env.ref("base.field_res_partner__color").id,
                },
            )
        ]
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(self.partners_with_email("a@corp.com").color, 1)
        self.assertEqual(self.partners_with_email("c@corp.com").color, 3)
        self.assertFalse(self.partners_with_email("b@corp.com"))
        failure = self.failures(run, "failed")
        self.assertEqual(failure.email, "b@corp.com")
        self.assertEqual(failure.direction, "mailchimp2odoo")
        self.assertIn("not a whole number", failure.reason)
        self.assertEqual(run.created_count, 2)


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncFaults(SyncRulesCase):
    """F31: throttling, timeouts, a revoked key,
    a crash: nothing lost, nothing duplicated."""

    def test_rate_limit_storm_is_retried(self):
        partners = self.contacts([{"email": f"storm{i}@corp.com"} for i in range(5)])
        pairing = self.make_pairing()
        with self.sandbox_fault(status=429, count=3, retry_after=0):
            run = pairing.run_sync()
        self.assertRunDone(run)
        throttled = [c for c in self.api_calls() if c["status"] == 429]
        self.assertEqual(len(throttled), 3)
        self.assertEveryContactOnce(pairing, partners)

    def test_rate_limit_that_does_not_end_fails_the_run_then_a_rerun_finishes(self):
        partners = self.contacts([{"email": f"storm{i}@corp.com"} for i in range(5)])
        pairing = self.make_pairing()
        with self.sandbox_fault(status=429, count=1000, retry_after=0.3):
            run = pairing.run_sync()
        self.assertEqual(run.state, "failed")
        self.assertIn("limiting the requests", run.message)
        self.assertEqual(self.account.state, "connected")
        self.assertEqual(pairing.state, "active")
        self.assertFalse(pairing.member_ids)
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEveryContactOnce(pairing, partners)

    def test_timeout_is_retried_then_fails_the_run(self):
        self.account.request_timeout = 1
        partners = self.contacts([{"email": f"slow{i}@corp.com"} for i in range(3)])
        pairing = self.make_pairing()
        # one slow answer: the GET is sent again
        with self.sandbox_fault(status=500, count=1, method="GET", hang=1.5):
            run = pairing.run_sync()
            # it was hit
            self.assertEqual(self.sandbox_control("GET", "faults")["faults"], [])
        self.assertRunDone(run)
        self.assertEveryContactOnce(pairing, partners)
        # Mailchimp stays silent: the run fails with a clear message, the account stays
        with self.sandbox_fault(status=500, count=10, method="GET", hang=1.5):
            run2 = pairing.run_sync()
        self.assertEqual(run2.state, "failed")
        self.assertIn("did not answer in time", run2.message)
        self.assertEqual(self.account.state, "connected")
        self.assertEqual(pairing.state, "active")

    def test_revoked_key(self):
        partners = self.contacts([{"email": f"key{i}@corp.com"} for i in range(3)])
        pairing = self.make_pairing()
        self.sandbox_control(
            "POST", "accounts/revoke", {"api_key": self.account.api_key}
        )
        run = pairing.run_sync()
        self.assertEqual(run.state, "failed")
        self.assertIn("rejected the API key", run.message)
        self.assertNotIn(self.account.api_key, run.message)
        self.assertEqual(self.account.state, "error")
        # not broken: reauthorizing repairs it
        self.assertEqual(pairing.state, "active")
        self.assertTrue(partners.exists())
        # the scheduler does not run syncs of an account in error
        runs = pairing.run_ids
        pairing.sync_requested = True
        self.env["mailchimp.pairing"]._cron_sync()
        self.assertEqual(pairing.run_ids, runs)

    def test_failure_mid_push_then_rerun(self):
        partners = self.contacts([{"email": f"mid{i:02d}@corp.com"} for i in range(12)])
        pairing = self.make_pairing(direction="odoo2mailchimp")
        payload = PushStep._new_members_payload
        calls = []

        def failing_second_call(run, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                # Mailchimp answers the 2nd batch subscribe
                # with a 502 (not retried: a POST)
                self.sandbox_control(
                    "POST", "faults", {"status": 502, "method": "POST"}
                )
            return payload(run, *args, **kwargs)

        with (
            patch.object(push_step, "PUSH_CHUNK", 5),
            patch.object(PushStep, "_new_members_payload", failing_second_call),
        ):
            run = pairing.run_sync()
            self.assertEqual(run.state, "failed")
            self.assertIn("HTTP 502", run.message)
            self.assertEqual(len(pairing.member_ids), 5)  # the first chunk stays
            self.assertEqual(len(self.mailchimp_members()), 5)
            run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEveryContactOnce(pairing, partners)

    def test_crash_after_mailchimp_applied_a_chunk_then_rerun(self):
        """The answer to a batch subscribe is lost (crash, kill -9): Mailchimp has the
        members, Odoo does not know; the rerun links them, adds nothing twice."""
        partners = self.contacts(
            [{"email": f"lost{i:02d}@corp.com", "name": f"Lost {i}"} for i in range(12)]
        )
        pairing = self.make_pairing(direction="odoo2mailchimp")
        store_new = PushStep._store_new
        calls = []

        def answer_lost_on_second_call(run, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                # Mailchimp has applied the 2nd batch
                # subscribe; its answer never arrives
                raise mc_errors.MailchimpNetworkError("Connection reset by peer")
            return store_new(run, *args, **kwargs)

        with (
            patch.object(push_step, "PUSH_CHUNK", 5),
            patch.object(PushStep, "_store_new", answer_lost_on_second_call),
        ):
            run = pairing.run_sync()
            self.assertEqual(run.state, "failed")
            self.assertEqual(len(pairing.member_ids), 5)
            self.assertEqual(len(self.mailchimp_members()), 10)
            run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEveryContactOnce(pairing, partners)
        members = self.mailchimp_members()
        self.assertEqual(members["lost07@corp.com"]["merge_fields"]["FNAME"], "Lost")
        self.assertEqual(members["lost07@corp.com"]["merge_fields"]["LNAME"], "7")

    def test_two_syncs_of_one_pairing_never_run_at_once(self):
        self.contacts([{"email": "lock@corp.com"}])
        pairing = self.make_pairing()
        other = self.registry.cursor()
        try:
            other.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [LOCK_SYNC, pairing.id]
            )
            self.assertTrue(other.fetchone()[0])
            self.sandbox_control("DELETE", "requests")
            run = pairing.run_sync()
            self.assertFalse(run)
            self.assertFalse(pairing.run_ids)
            self.assertEqual(self.api_calls(), [])
            other.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_SYNC, pairing.id])
        finally:
            other.close()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(pairing.member_ids), 1)


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncScale(SyncRulesCase):
    """F30: batches, pages, and a number of queries that does not grow per contact."""

    def test_initial_push_uses_batch_subscribe(self):
        self.contacts([{"email": f"bulk{i:04d}@corp.com"} for i in range(1200)])
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.sandbox_control("DELETE", "requests")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.created_count, 1200)
        calls = self.api_calls()
        self.assertEqual(len(batch_subscribe_calls(calls, self.list_id)), 3)
        self.assertEqual([c for c in calls if "/members/" in c["api_path"]], [])
        self.assertLessEqual(len(calls), 5)  # 3 POSTs and the pull's GET
        self.assertEqual(len(pairing.member_ids), 1200)

    def batch_jobs(self):
        """Operations of each /batches job Mailchimp was given, oldest first."""
        jobs = self.client.get("/batches", params={"count": 1000})["batches"]
        return [
            job["total_operations"]
            for job in sorted(jobs, key=lambda j: j["submitted_at"])
        ]

    def test_a_large_push_of_new_contacts_is_one_batches_job(self):
        """Past 1,500 new members a chunk is one /batches job of upserts: a few
        requests, and a member Mailchimp got meanwhile keeps its status."""
        partners = self.contacts(
            [{"email": f"big{i:04d}@corp.com", "name": f"Big {i}"} for i in range(1600)]
        )
        fake = self.contacts([{"email": "fake@corp.com", "name": "Fake Local"}])
        pairing = self.make_pairing(direction="odoo2mailchimp")
        send_new = PushStep._send_new
        late = "big0007@corp.com"

        def someone_unsubscribed_meanwhile(run, *args):
            # after the pull read the audience, the person joined and left in Mailchimp
            self.client.put(
                f"/lists/{self.list_id}/members/{subscriber_hash(late)}",
                json={"email_address": late, "status_if_new": "unsubscribed"},
            )
            return send_new(run, *args)

        self.sandbox_control("DELETE", "requests")
        with patch.object(PushStep, "_send_new", someone_unsubscribed_meanwhile):
            run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.created_count, 1600)
        self.assertEqual(batch_subscribe_calls(self.api_calls(), self.list_id), [])
        self.assertEqual(self.batch_jobs(), [1601])
        # two reads (members, archived), the job, a few polls, its results
        self.assertLessEqual(run.http_requests, 10)
        members = self.mailchimp_members()
        self.assertEqual(len(members), 1600)
        self.assertEqual(members[late]["status"], "unsubscribed")
        self.assertEqual(members["big0042@corp.com"]["status"], "subscribed")
        self.assertEqual(members["big0042@corp.com"]["merge_fields"]["LNAME"], "42")
        self.assertEveryContactOnce(pairing, partners)
        self.assertEqual(
            pairing.member_ids.filtered(lambda m: m.email == late).status,
            "unsubscribed",
        )
        failed = self.failures(run, "failed")
        self.assertEqual(failed.partner_id, fake)
        self.assertIn("looks fake", failed.reason)

    def test_a_job_still_running_at_the_deadline_is_taken_up_by_the_next_pass(self):
        partners = self.contacts(
            [
                {"email": f"wait{i:04d}@corp.com", "name": f"Wait {i}"}
                for i in range(1600)
            ]
        )
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.sandbox_control("POST", "batches/config", {"paused": True})
        self.addCleanup(
            self.sandbox_control, "POST", "batches/config", {"paused": False}
        )
        run = pairing.run_sync(deadline=time.monotonic() + 3)
        self.assertEqual(run.state, "running")
        self.assertTrue(run.push_batch_id)
        self.assertFalse(pairing.member_ids)
        self.assertFalse(run.failure_ids)
        self.assertEqual(self.batch_jobs(), [1600])
        # a salesperson renames a contact meanwhile:
        # that upsert is no longer the one sent
        partners[5].name = "Renamed Person"
        self.sandbox_control("POST", "batches/config", {"paused": False})
        self.assertEqual(pairing.run_sync(), run)
        self.assertRunDone(run)
        self.assertFalse(run.push_batch_id)
        # the others' answers were reused
        self.assertEqual(self.batch_jobs(), [1600, 1])
        self.assertEqual(run.created_count, 1600)
        self.assertEveryContactOnce(pairing, partners)
        members = self.mailchimp_members()
        self.assertEqual(
            members["wait0005@corp.com"]["merge_fields"]["FNAME"], "Renamed"
        )
        self.assertEqual(members["wait0006@corp.com"]["merge_fields"]["FNAME"], "Wait")

    def test_pull_reads_pages_of_a_thousand(self):
        self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/seed",
            # an audience built over time: one change per second
            {
                "count": 2500,
                "merge_fields": {"FNAME": "Seed{n}"},
                "spread_seconds": 2500,
            },
        )
        pairing = self.make_pairing(
            direction="mailchimp2odoo",
            create_missing=True,
            default_owner_id=self.owner.id,
        )
        self.sandbox_control("DELETE", "requests")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.created_count, 2500)
        gets = [g for g in self.member_gets() if "status" not in g["query"]]
        self.assertEqual(len(gets), 3)
        self.assertEqual([g["query"]["count"] for g in gets], ["1000"] * 3)
        # one listing in change order, each page asked from 11 members before the end
        # of the previous one: the walk checks it finds them there (nobody changed
        # meanwhile), so a member changed during the walk makes it skip nobody
        self.assertEqual([g["query"]["offset"] for g in gets], ["0", "989", "1978"])
        self.assertTrue(all("since_last_changed" not in g["query"] for g in gets))
        # and one for the archived members, read by a full sync only
        archived = [
            g for g in self.member_gets() if g["query"].get("status") == "archived"
        ]
        self.assertEqual(len(archived), 1)
        self.assertEqual(len(self.api_calls()), 4)
        self.assertEqual(len(pairing.member_ids), 2500)

    def test_an_import_is_read_once_then_unchanged_runs_cost_one_request(self):
        """The import's second is read again while it may still receive changes; once
        settled the mark moves past it, and members read again are neither merged
        nor written. Whether since_last_changed keeps its own second is learnt once."""
        self.env["ir.config_parameter"].sudo().set_param(
            "mailchimp_connector.watermark_margin_seconds", "0"
        )
        self.sandbox_control("POST", f"lists/{self.list_id}/seed", {"count": 1500})
        pairing = self.make_pairing(
            direction="mailchimp2odoo",
            create_missing=True,
            default_owner_id=self.owner.id,
        )
        self.assertRunDone(pairing.run_sync())
        Member = self.env["mailchimp.member"]
        written = dict(
            Member.search([("pairing_id", "=", pairing.id)]).mapped(
                lambda member: (member.id, member.write_date)
            )
        )
        time.sleep(1.1)  # the import's second is over, whatever the first run saw
        second = pairing.run_sync()
        self.assertRunDone(second)
        # at most the import's second again
        self.assertLessEqual(second.http_requests, 2)
        self.assertEqual(second.created_count + second.updated_count, 0)
        third = pairing.run_sync()
        self.assertRunDone(third)
        if third.http_requests > 1:
            # asked from the second before the mark, only an inclusive
            # since_last_changed lists that second (the
            # import): the account remembers it, once
            self.assertEqual(self.sandbox_behaviour.get("since"), "inclusive")
            self.assertEqual(
                self.account.sudo().since_semantics, {"since_last_changed": "inclusive"}
            )
            self.assertLessEqual(third.http_requests, 2)
            third = pairing.run_sync()
            self.assertRunDone(third)
        self.assertEqual(third.http_requests, 1)
        self.assertEqual(
            third.unchanged_count + third.created_count + third.updated_count, 0
        )
        members = Member.search([("pairing_id", "=", pairing.id)])
        self.assertEqual(len(members), 1500)
        self.assertEqual(
            dict(members.mapped(lambda member: (member.id, member.write_date))), written
        )
        # a change after all that is still read; a contact named after its address
        # by the sync has no first name of its own to defend against it
        self.mailchimp_put("member000007@seed-mail.com", FNAME="Changed")
        fourth = pairing.run_sync()
        self.assertRunDone(fourth)
        self.assertEqual(fourth.updated_count, 1)
        member = members.filtered(lambda m: m.email == "member000007@seed-mail.com")
        self.assertEqual(member.partner_id.name, "Changed")

    def _queries(self, pairing):
        before = self.env.cr.sql_log_count
        run = pairing.run_sync()
        self.env.flush_all()
        self.assertRunDone(run)
        return self.env.cr.sql_log_count - before

    def test_sql_queries_do_not_grow_per_contact(self):
        events_id = self.sandbox_control("POST", "lists", {"name": "Events"})["id"]
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        events = self.account.audience_ids.filtered(
            lambda a: a.mailchimp_list_id == events_id
        )
        small_tag = self.tag
        big_tag = self.env["res.partner.category"].create({"name": "Big segment"})
        self.contacts([{"email": f"small{i:04d}@corp.com"} for i in range(100)])
        self.env["res.partner"].create(
            [
                {
                    "name": f"Big {i}",
                    "email": f"big{i:04d}@corp.com",
                    "category_id": [(4, big_tag.id)],
                }
                for i in range(1000)
            ]
        )
        small = self.make_pairing(name="Small", partner_tag_id=small_tag.id)
        big = self.make_pairing(
            name="Big", audience_id=events.id, partner_tag_id=big_tag.id
        )
        warmup = self.make_pairing(
            name="Warm-up",
            partner_tag_id=self.env["res.partner.category"].create({"name": "None"}).id,
        )
        self._queries(warmup)
        initial_small, initial_big = self._queries(small), self._queries(big)
        # 900 more contacts cost a few queries per chunk of 500, never one per contact
        self.assertLess(initial_big - initial_small, 60, (initial_small, initial_big))
        # nothing changed: the same small number of queries whatever the size
        unchanged_small, unchanged_big = self._queries(small), self._queries(big)
        self.assertLess(
            unchanged_big - unchanged_small, 30, (unchanged_small, unchanged_big)
        )
