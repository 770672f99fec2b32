# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A run limited to a few contacts (``mailchimp.sync.run.partner_ids``: "Add to
Mailchimp…", "Sync with Mailchimp now" on a selection): the pull and the push of
the sync, on these contacts only, in bulk, without waiting for a run over the
whole segment. The sync's marks and schedule are left alone: what the run does
not cover, the next scheduled run still finds."""

from odoo.tools import split_every

from .pull import CONFIRM_DIRECTLY, PullStep, member_fields
from .push import PushStep
from .push_selection import PushSelection


class SelectedPullStep(PullStep):
    """Mailchimp -> Odoo for the run's contacts: their members read by subscriber
    hash (a few directly, more as one /batches job of GETs) and merged by the
    pull's own code. Contacts not linked yet are matched by the push (or the next
    scheduled run of a Mailchimp -> Odoo sync)."""

    def run(self):
        client, pairing, run = self.client, self.pairing, self.sync_run
        members = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "=", pairing.id),
                ("partner_id", "in", run.partner_ids.ids),
                ("status", "!=", "archived"),
            ],
            ["subscriber_hash"],
            order="id",
        )
        maps = pairing.field_map_ids._plan()
        self.progress.expect(len(members))
        if members:
            path = f"/lists/{pairing.audience_id.mailchimp_list_id}/members"
            params = {"fields": ",".join(member_fields(pairing, maps))}
            if len(members) <= CONFIRM_DIRECTLY and not run.push_batch_id:
                answers = self._read_each(client, path, members, params)
            else:
                answers = self._read_by_batch(
                    client, path, members, params, self.deadline
                )
                if answers is None:
                    return False
            gone = members.browse(
                [member.id for member, status, _body in answers if status == 404]
            )
            gone.write({"status": "archived"})  # deleted for good in Mailchimp (F17)
            self._add(updated=len(gone))
            self.progress.add(len(gone))
            shown = [body for _m, status, body in answers if status == 200 and body]
            for chunk in split_every(1000, shown, list):
                self._pull_page_committed(chunk, maps, client)
        push = run.direction in ("both", "odoo2mailchimp")
        run.stage = "push" if push else "end"
        self._count_requests(client)
        self._commit()
        return True


class SelectedPushStep(PushStep):
    """Odoo -> Mailchimp for the run's contacts of the segment, each compared with
    what Mailchimp last had (unchanged ones send nothing); the push's mark does
    not move."""

    def _selection(self, state):
        return PushSelection(
            self.env["res.partner"].with_context(active_test=False),
            self.pairing._segment_domain()
            + [("id", "in", self.sync_run.partner_ids.ids)],
        )

    def _move_odoo_watermark(self, state):
        """Other contacts changed meanwhile are the next scheduled run's."""

    def _invalid_email_domain(self):
        return self.pairing._segment_domain(email=False) + [
            ("id", "in", self.sync_run.partner_ids.ids),
            ("email", "!=", False),
            ("email_normalized", "=", False),
        ]
