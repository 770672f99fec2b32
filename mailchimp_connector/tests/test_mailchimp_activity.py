# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from ..engine import activity as activity_pull
from .common import ALTERNATIVE_BEHAVIOUR, MailchimpSyncCase, behaviour_variants

URL = "https://www.example.com/offer?utm=1"


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestMailchimpActivity(MailchimpSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = new_test_user(
            cls.env,
            login="mc_activity_salesperson",
            groups="base.group_user,mailchimp_connector.group_mailchimp_user",
        )

    def setUp(self):
        super().setUp()
        self.partners = self.env["res.partner"].create(
            [{"name": f"Ann Smith{i}", "email": f"ann{i}@corp.com"} for i in range(5)]
        )
        pairing = self.make_pairing(direction="odoo2mailchimp")
        run = pairing.run_sync()
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(len(pairing.member_ids.filtered("partner_id")), 5)
        self.send_time = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(
            days=1
        )

    def at(self, minutes):
        return (self.send_time + timedelta(minutes=minutes)).isoformat()

    def make_campaign(self, subject="Spring offer", events=None, **extra):
        return self.sandbox_control(
            "POST",
            "campaigns",
            dict(
                {
                    "list_id": self.list_id,
                    "subject": subject,
                    "send_time": self.send_time.isoformat(),
                    "events": events or [],
                },
                **extra,
            ),
        )

    def partner(self, i):
        return self.partners[i]

    def activities(self, partner=None):
        domain = (
            [("partner_id", "=", partner.id)]
            if partner
            else [("partner_id", "in", self.partners.ids)]
        )
        return self.env["mailchimp.activity"].search(domain)

    def chatter(self, partner):
        subtype = self.env.ref("mailchimp_connector.mt_mailchimp_activity")
        return self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", partner.id),
                ("subtype_id", "=", subtype.id),
            ]
        )

    def standard_events(self):
        return [
            {"email": "ann0@corp.com", "action": "open", "timestamp": self.at(10)},
            {
                "email": "ann0@corp.com",
                "action": "click",
                "timestamp": self.at(11),
                "url": URL,
            },
            {
                "email": "ann1@corp.com",
                "action": "bounce",
                "type": "soft",
                "timestamp": self.at(2),
            },
            {"email": "ann2@corp.com", "action": "unsub", "timestamp": self.at(30)},
            {
                "email": "stranger@elsewhere.com",
                "action": "open",
                "timestamp": self.at(5),
            },
        ]

    def sync(self):
        self.account._pull_activity()
        self.assertFalse(self.account.activity_error)

    # ------------------------------------------------------------------

    def test_events_land_once_with_url_bounce_type_and_unsubscribe(self):
        self.make_campaign(events=self.standard_events())
        self.sync()
        campaign = self.account.campaign_ids
        self.assertEqual(len(campaign), 1)
        self.assertEqual(campaign.subject, "Spring offer")
        self.assertEqual(campaign.audience_id, self.audience)
        acts = self.activities()
        # 5 sends + open + click + bounce + unsubscribe
        self.assertEqual(len(acts), 9)
        self.assertEqual(
            sorted(acts.filtered(lambda a: a.action == "sent").partner_id.ids),
            sorted(self.partners.ids),
        )
        click = acts.filtered(lambda a: a.action == "click")
        self.assertEqual((click.partner_id, click.url), (self.partner(0), URL))
        bounce = acts.filtered(lambda a: a.action == "bounce")
        self.assertEqual(
            (bounce.partner_id, bounce.bounce_type), (self.partner(1), "soft")
        )
        unsub = acts.filtered(lambda a: a.action == "unsubscribe")
        self.assertEqual(unsub.partner_id, self.partner(2))
        self.assertEqual(
            unsub.timestamp, self.send_time.replace(tzinfo=None) + timedelta(minutes=30)
        )
        # chatter: one line per contact and campaign, with the subtype (no
        # description repeated), no notification
        line = self.chatter(self.partner(0))
        self.assertEqual(len(line), 1)
        self.assertIn(URL.replace("&", "&amp;"), line.body)
        self.assertIn("Spring offer", line.body)
        self.assertIn("opened", line.body)
        self.assertIn("www.example.com/offer</a>", line.body)
        self.assertFalse(line.subtype_id.description)
        self.assertFalse(line.notification_ids)
        summary = self.env["mailchimp.activity.summary"].search(
            [("partner_id", "=", self.partner(0).id)]
        )
        self.assertEqual(
            (summary.message_id, summary.open_count, summary.click_count),
            (line, 1, 1),
        )
        self.assertEqual(summary.last_click_url, URL)
        self.assertIn("bounced (soft)", self.chatter(self.partner(1)).body)
        self.assertIn("unsubscribed", self.chatter(self.partner(2)).body)
        self.assertEqual(len(self.chatter(self.partner(4))), 1)
        self.assertEqual(campaign.emails_sent, 6)
        self.assertEqual(campaign.soft_bounces, 1)
        self.assertEqual(campaign.unsubscribes, 1)
        # a second run stores and posts nothing more
        messages = self.env["mail.message"].search_count(
            [("model", "=", "res.partner")]
        )
        self.sync()
        self.assertEqual(len(self.activities()), 9)
        self.assertEqual(
            self.env["mail.message"].search_count([("model", "=", "res.partner")]),
            messages,
        )
        self.assertEqual(len(self.account.campaign_ids), 1)

    def test_abuse_reports_become_spam_lines_once(self):
        self.make_campaign(
            events=[
                *self.standard_events(),
                {"email": "ann3@corp.com", "action": "abuse", "timestamp": self.at(45)},
                {
                    "email": "stranger@elsewhere.com",
                    "action": "abuse",
                    "timestamp": self.at(46),
                },
            ]
        )
        self.sync()
        campaign = self.account.campaign_ids
        self.assertEqual(campaign.abuse_reports, 2)
        abuse = self.activities().filtered(lambda a: a.action == "abuse")
        self.assertEqual(abuse.partner_id, self.partner(3))
        self.assertEqual(
            abuse.timestamp, self.send_time.replace(tzinfo=None) + timedelta(minutes=45)
        )
        line = self.chatter(self.partner(3))
        self.assertEqual(len(line), 1)
        self.assertIn("marked as spam", line.body)
        self.assertIn("Spring offer", line.body)
        self.assertFalse(line.notification_ids)
        # the stranger: sent + open + abuse, counted, not stored
        self.assertEqual(campaign.unknown_event_count, 3)
        self.assertEqual(
            self.env["mailchimp.activity"].search_count(
                [
                    ("company_id", "in", [self.env.company.id, False]),
                    ("action", "=", "abuse"),
                ]
            ),
            1,
        )
        self.sync()
        self.assertEqual(
            len(self.activities().filtered(lambda a: a.action == "abuse")), 1
        )
        self.assertEqual(self.chatter(self.partner(3)), line)
        self.assertEqual(campaign.unknown_event_count, 3)

    def test_the_line_of_a_campaign_is_rewritten_as_events_arrive(self):
        """One chatter line per contact and campaign: a later event rewrites it in
        place; another campaign has its own line."""
        campaign_json = self.make_campaign(
            subject="Winter subject", title="Winter sale", events=[]
        )
        self.sync()
        line = self.chatter(self.partner(0))
        self.assertEqual(len(line), 1)
        # named by its title, as the lists do
        self.assertIn("<b>Winter sale</b> — sent", line.body)
        self.assertNotIn("opened", line.body)
        self.sandbox_control(
            "POST",
            f"campaigns/{campaign_json['id']}/events",
            {
                "events": [
                    {"email": "ann0@corp.com", "action": "open", "timestamp": at}
                    for at in (self.at(10), self.at(20))
                ]
                + [
                    {
                        "email": "ann0@corp.com",
                        "action": "click",
                        "timestamp": self.at(21),
                        "url": "https://shop.example.com/chairs?utm=mc",
                    }
                ]
            },
        )
        self.sync()
        self.assertEqual(self.chatter(self.partner(0)), line)
        self.assertIn("opened 2×", line.body)
        self.assertIn("shop.example.com/chairs</a>", line.body)
        self.assertEqual(
            line.date, self.send_time.replace(tzinfo=None) + timedelta(minutes=21)
        )
        self.make_campaign(
            subject="Other",
            send_time=(self.send_time + timedelta(hours=1)).isoformat(),
        )
        self.sync()
        self.assertEqual(len(self.chatter(self.partner(0))), 2)
        self.assertEqual(
            self.env["mailchimp.activity.summary"].search_count(
                [("partner_id", "=", self.partner(0).id)]
            ),
            2,
        )

    def test_a_deleted_line_comes_back_with_the_next_event(self):
        """Someone deleted a contact's line: the summary keeps its counts, and
        its next event posts a new line that says all of them."""
        campaign_json = self.make_campaign(events=self.standard_events())
        self.sync()
        summary = self.env["mailchimp.activity.summary"].search(
            [("partner_id", "=", self.partner(0).id)]
        )
        summary.message_id.unlink()
        self.assertFalse(summary.message_id)
        self.sandbox_control(
            "POST",
            f"campaigns/{campaign_json['id']}/events",
            {
                "events": [
                    {
                        "email": "ann0@corp.com",
                        "action": "open",
                        "timestamp": self.at(40),
                    }
                ]
            },
        )
        self.sync()
        line = self.chatter(self.partner(0))
        self.assertEqual(len(line), 1)
        self.assertEqual(summary.message_id, line)
        self.assertIn("opened 2×", line.body)
        self.assertIn("clicked", line.body)

    def test_pages_are_written_without_jit(self):
        """A page's statements are planned without JIT compilation (which spent
        most of a large pull's database time)."""
        self.env.cr.execute("SET LOCAL jit = on")
        self.make_campaign(events=self.standard_events())
        self.sync()
        self.assertEqual(len(self.activities(self.partner(0))), 3)
        self.env.cr.execute("SHOW jit")
        self.assertEqual(self.env.cr.fetchone()[0], "off")

    def test_one_line_per_event_when_the_account_asks_for_it(self):
        self.account.activity_chatter = "event"
        self.make_campaign(events=self.standard_events())
        self.sync()
        lines = self.chatter(self.partner(0))
        self.assertEqual(len(lines), 3)
        self.assertTrue(any(URL.replace("&", "&amp;") in line.body for line in lines))
        self.assertFalse(lines.notification_ids)
        self.assertFalse(self.env["mailchimp.activity.summary"].search([]))
        self.sync()
        self.assertEqual(len(self.chatter(self.partner(0))), 3)

    def test_pages_read_again_after_a_lost_position_add_nothing(self):
        """Pages are committed before the position that covers them: a crash in
        between makes the next pull read them again, which must store, post and
        count nothing twice."""
        self.make_campaign(
            events=self.standard_events(),
            generate={"opens_per_member": 2, "clicks_per_member": 1, "seed": 5},
        )
        with patch.object(activity_pull, "PAGE_SIZE", 2):
            self.sync()
        campaign = self.account.campaign_ids
        events = sorted(self.activities().mapped("event_key"))
        messages = self.env["mail.message"].search_count(
            [("model", "=", "res.partner")]
        )
        unknown = campaign.unknown_event_count
        self.assertGreater(len(events), 9)
        # the position as it was committed before the first page of each walk
        campaign.write(
            {
                "sent_to_offset": 0,
                "sent_to_done": False,
                "unknown_sent_count": 0,
                "activity_offset": 0,
                "activity_walk_since": campaign.send_time,
                "activity_walk_max": False,
                "activity_watermark": False,
                "activity_next_since": False,
                "unknown_activity_count": 0,
            }
        )
        with patch.object(activity_pull, "PAGE_SIZE", 2):
            self.sync()
        self.assertEqual(sorted(self.activities().mapped("event_key")), events)
        self.assertEqual(
            self.env["mail.message"].search_count([("model", "=", "res.partner")]),
            messages,
        )
        self.assertEqual(campaign.unknown_event_count, unknown)
        self.assertTrue(campaign.sent_to_done)
        self.assertEqual(campaign.activity_offset, 0)

    def test_unknown_emails_are_counted_not_stored(self):
        self.make_campaign(events=self.standard_events())
        self.sync()
        campaign = self.account.campaign_ids
        # stranger: sent + open
        self.assertEqual(campaign.unknown_event_count, 2)
        self.assertFalse(
            self.env["mailchimp.activity"].search(
                [
                    ("campaign_id", "=", campaign.id),
                    ("partner_id", "not in", self.partners.ids),
                ]
            )
        )
        self.sync()
        self.assertEqual(campaign.unknown_event_count, 2)

    def test_new_events_after_first_run_are_added(self):
        events = self.standard_events()
        self.make_campaign(events=events)
        self.sync()
        count = len(self.activities())
        # a second campaign, sent later, is found by the next run
        self.make_campaign(
            subject="Summer offer",
            events=[
                {
                    "email": "ann3@corp.com",
                    "action": "click",
                    "url": URL,
                    "timestamp": self.at(90),
                }
            ],
            send_time=(self.send_time + timedelta(hours=1)).isoformat(),
        )
        self.sync()
        self.assertEqual(len(self.account.campaign_ids), 2)
        # recipients are the subscribed members: ann2 unsubscribed through the first one
        self.assertEqual(len(self.activities()), count + 4 + 1)

    # -- since_* at its boundary second (exclusive or inclusive) ---------------------

    def test_a_campaign_sent_in_the_second_of_the_last_one_read_is_found(self):
        self.make_campaign(subject="First", events=self.standard_events())
        self.sync()
        # listed after the first pull, with the same send second
        self.make_campaign(subject="Twin")
        self.sync()
        self.assertEqual(
            sorted(self.account.campaign_ids.mapped("subject")), ["First", "Twin"]
        )

    def test_a_campaign_that_became_sent_after_a_later_one_was_read_is_found(self):
        self.make_campaign(subject="Quick", events=self.standard_events())
        self.sync()
        # a big send started an hour earlier ends now: its send_time is when it started
        self.make_campaign(
            subject="Big", send_time=(self.send_time - timedelta(hours=1)).isoformat()
        )
        self.sync()
        self.assertEqual(
            sorted(self.account.campaign_ids.mapped("subject")), ["Big", "Quick"]
        )

    def test_an_event_in_the_second_of_the_newest_event_read_is_stored(self):
        campaign_json = self.make_campaign(events=self.standard_events())
        self.sync()
        campaign = self.account.campaign_ids
        # the newest open, click or bounce read: ann0's click
        newest = self.send_time.replace(tzinfo=None) + timedelta(minutes=11)
        self.assertEqual(campaign.activity_watermark, newest)
        # Mailchimp records an open stamped with that very second after the pull
        self.sandbox_control(
            "POST",
            f"campaigns/{campaign_json['id']}/events",
            {
                "events": [
                    {
                        "email": "ann3@corp.com",
                        "action": "open",
                        "timestamp": self.at(11),
                    }
                ]
            },
        )
        self.sync()
        opens = self.activities(self.partner(3)).filtered(lambda a: a.action == "open")
        self.assertEqual(len(opens), 1)
        self.assertEqual(
            opens.timestamp, self.send_time.replace(tzinfo=None) + timedelta(minutes=11)
        )

    def test_paged_walk_matches_single_page(self):
        self.make_campaign(
            events=self.standard_events(),
            generate={"opens_per_member": 3, "clicks_per_member": 1, "seed": 7},
        )
        with patch.object(activity_pull, "PAGE_SIZE", 2):
            self.sync()
        paged = len(self.activities())
        campaign = self.account.campaign_ids
        self.assertEqual(campaign.activity_offset, 0)
        self.assertTrue(campaign.sent_to_done)
        self.env["mailchimp.activity"].search([]).unlink()
        campaign.write(
            {
                "activity_watermark": False,
                "activity_next_since": False,
                "sent_to_done": False,
                "sent_to_offset": 0,
            }
        )
        self.sync()
        self.assertEqual(len(self.activities()), paged)
        self.assertGreaterEqual(paged, 5 + 5 * 3)

    def test_throttled_pull_loses_and_duplicates_nothing(self):
        self.make_campaign(
            events=self.standard_events(),
            generate={"opens_per_member": 2, "clicks_per_member": 1, "seed": 3},
        )
        with (
            patch.object(activity_pull, "PAGE_SIZE", 2),
            self.sandbox_fault(status=429, count=50, path_pattern="email-activity"),
        ):
            self.account._pull_activity()
        self.assertTrue(self.account.activity_error)
        self.assertEqual(self.account.state, "connected")
        with patch.object(activity_pull, "PAGE_SIZE", 2):
            self.sync()
        resumed = sorted(self.activities().mapped("event_key"))
        self.assertEqual(len(resumed), len(set(resumed)))
        # a clean pull from scratch gives exactly the same events
        campaign = self.account.campaign_ids
        self.env["mailchimp.activity"].search([]).unlink()
        campaign.write(
            {
                "activity_watermark": False,
                "activity_next_since": False,
                "activity_walk_since": False,
                "activity_offset": 0,
                "sent_to_done": False,
                "sent_to_offset": 0,
            }
        )
        self.sync()
        self.assertEqual(sorted(self.activities().mapped("event_key")), resumed)

    def test_smart_button_count_matches(self):
        self.make_campaign(events=self.standard_events())
        self.sync()
        partner = self.partner(0)
        partner.invalidate_recordset(["mailchimp_activity_count"])
        self.assertEqual(partner.mailchimp_activity_count, 3)
        action = partner.action_open_mailchimp_activity()
        self.assertEqual(
            self.env["mailchimp.activity"].search_count(action["domain"]),
            partner.mailchimp_activity_count,
        )
        self.assertIn("graph", action["view_mode"])
        self.assertIn("pivot", action["view_mode"])

    def test_salesperson_reads_activity_not_the_key(self):
        self.make_campaign(events=self.standard_events())
        self.sync()
        env = self.env(user=self.salesperson)
        acts = env["mailchimp.activity"].search(
            [("partner_id", "=", self.partner(0).id)]
        )
        self.assertEqual(len(acts), 3)
        self.assertTrue(acts.read(["action", "url", "campaign_id", "timestamp"]))
        campaign = env["mailchimp.campaign"].search([])
        self.assertEqual(campaign.subject, "Spring offer")
        self.assertEqual(
            env["res.partner"].browse(self.partner(0).id).mailchimp_activity_count, 3
        )
        with self.assertRaises(AccessError):
            campaign.account_id.read(["api_key"])
        with self.assertRaises(AccessError):
            acts.write({"url": "x"})
        with self.assertRaises(AccessError):
            env["mailchimp.account"].browse(self.account.id).action_sync_activity()

    def test_utm_campaign_created_once(self):
        self.make_campaign(subject="UTM once", events=self.standard_events())
        self.sync()
        campaign = self.account.campaign_ids
        self.assertTrue(campaign.utm_campaign_id)
        self.assertEqual(campaign.utm_campaign_id.title, "UTM once")
        self.account.activity_campaign_watermark = False
        self.sync()
        self.assertEqual(len(self.account.campaign_ids), 1)
        self.assertEqual(
            self.env["utm.campaign"].search_count([("title", "=", "UTM once")]), 1
        )

    def test_campaign_outside_window_is_not_read(self):
        self.send_time -= timedelta(days=40)
        self.make_campaign(events=self.standard_events())
        self.account.activity_window_days = 60
        self.sync()
        self.assertEqual(len(self.account.campaign_ids), 1)
        self.env["mailchimp.activity"].search([]).unlink()
        self.account.activity_window_days = 30
        self.sandbox_control("DELETE", "requests")
        self.sync()
        self.assertFalse(self.activities())
        self.assertFalse([c for c in self.api_calls() if "/reports/" in c["path"]])

    def test_sync_activity_now_runs_in_the_background_and_tells_when_done(self):
        """The account's button answers at once; the scheduler's worker pulls,
        then tells the person who asked, with the counts, through the bus."""
        self.make_campaign(events=self.standard_events())
        self.env["ir.cron.trigger"].search([]).unlink()
        self.env["bus.bus"].search([]).unlink()
        admin = self.env.ref("base.user_admin")
        action = self.account.with_user(admin).action_sync_activity()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("background", action["params"]["message"])
        self.assertFalse(self.activities(), "nothing pulled in the click")
        cron = self.env.ref("mailchimp_connector.ir_cron_mailchimp_activity")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self.assertEqual(self.account.activity_requester_ids, admin)
        # the worker's pass
        self.env["mailchimp.campaign"]._cron_sync_activity()
        self.assertEqual(len(self.activities()), 9)
        self.assertFalse(self.account.activity_requester_ids)
        self.env.cr.precommit.run()  # the bus writes its messages at commit
        notes = [
            json.loads(bus.message)
            for bus in self.env["bus.bus"].search([])
            if json.loads(bus.message)["type"] == "simple_notification"
        ]
        self.assertEqual(len(notes), 1)
        self.assertEqual(notes[0]["payload"]["type"], "success")
        self.assertIn(
            "new events: 9, campaigns read: 1", notes[0]["payload"]["message"]
        )
        # a pass nobody asked for tells nobody
        self.env["mailchimp.campaign"]._cron_sync_activity()
        self.env.cr.precommit.run()
        self.assertEqual(
            len(
                [
                    bus
                    for bus in self.env["bus.bus"].search([])
                    if "simple_notification" in bus.message
                ]
            ),
            1,
        )

    def test_a_salesperson_asks_from_the_campaign_and_is_told(self):
        self.make_campaign(events=self.standard_events())
        self.sync()
        campaign = self.account.campaign_ids.with_user(self.salesperson)
        action = campaign.action_sync_activity()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.account.activity_requester_ids, self.salesperson)
        self.env["mailchimp.campaign"]._cron_sync_activity()
        self.env.cr.precommit.run()
        told = self.env["bus.bus"].search(
            [("message", "ilike", "new events: 0, campaigns read: 1")]
        )
        self.assertEqual(len(told), 1)
        self.assertEqual(
            json.loads(told.channel)[1:],
            ["res.partner", self.salesperson.partner_id.id],
        )

    def test_cron_pulls_activity(self):
        self.make_campaign(events=self.standard_events())
        self.env["mailchimp.campaign"]._cron_sync_activity()
        self.assertEqual(len(self.activities()), 9)
