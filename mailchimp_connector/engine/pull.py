# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The pull: Mailchimp -> Odoo. Members changed since the pull's mark, oldest change
first, merged page by page into contacts (three-way, by the sync's conflict rule)
and committed with the mark that covers them."""

import functools
from contextlib import closing, suppress
from types import SimpleNamespace

import psycopg2
from markupsafe import escape

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tools import split_every

from ..utils import batch_jobs, merge_values, sync_rules
from ..utils import mailchimp_errors as mc_errors
from ..utils.read_ahead import read_ahead
from .plans import NewContact, PageWork, PulledMember
from .step import QUIET, Step

# members a full read did not see, confirmed one
# GET each up to this many, else by one /batches job
CONFIRM_DIRECTLY = 10
# contacts created or updated by a pull before the member table is analyzed
ANALYZE_AFTER = 10000
MEMBER_FIELDS = [
    "id",
    "contact_id",
    "email_address",
    "status",
    "last_changed",
    "marketing_permissions",
    "merge_fields",  # last: the pull asks for the mapped merge fields only
]


def member_fields(pairing, maps):
    """The member fields a pull (or a webhook delivery) reads: the mapped merge
    fields only, and the interests of a sync that maps some."""
    wanted = MEMBER_FIELDS[:-1] + [f"merge_fields.{tag}" for tag in maps.tags]
    if pairing.interest_map_ids:
        wanted.append("interests")  # stored as read (F14)
    return wanted


def watermark_margin(env):
    """Seconds after which Mailchimp can no longer stamp a change with a past
    second (clock differences between its servers): see first_second_to_read."""
    return float(
        env["ir.config_parameter"]
        .sudo()
        .get_param("mailchimp_connector.watermark_margin_seconds", "5")
    )


class PullStep(Step):
    """Mailchimp -> Odoo; the consent hooks (``engine.consent``) see each page."""

    @property
    def consent(self):
        return self.engine.consent

    @functools.cached_property
    def cursor(self):
        """The sync's run-written state, looked up once: its record never changes,
        and a page's commit would otherwise cost one more query to find it again."""
        return self.pairing._sync_cursor()

    def run(self):
        """Read the members changed since the first
        second still to read, oldest change first.

        A full run reads everything, and the archived members apart, unless it is
        resuming: then it goes on from the second its own committed pages reached.
        The next page is read from Mailchimp while this one is written. A member a
        complete full read did not see is archived only once Mailchimp confirms it
        (``_pull_confirm_missing``). Returns False when the deadline came first.
        """
        client, deadline = self.client, self.deadline
        pairing = self.pairing
        self.consent.before_pull()
        mark = self._pull_mark()
        since = (
            mark
            if mark is not None
            and (not self.sync_run.full or self.sync_run.pull_resumed)
            else None
        )
        path = f"/lists/{pairing.audience_id.mailchimp_list_id}/members"
        maps = pairing.field_map_ids._plan()
        fields_wanted = member_fields(pairing, maps)
        walk = self._pull_walk(client, path, maps, fields_wanted, since, deadline)
        if walk is None:
            return False
        if self.sync_run.full and not self._pull_full_rest(
            client, path, maps, fields_wanted, walk, deadline
        ):
            return False
        self._set_pull_mark(
            sync_rules.first_second_to_read(
                since,
                walk.newest,
                walk.started,
                watermark_margin(self.env),
                walk.complete,
            )
        )
        push = self.sync_run.direction in ("both", "odoo2mailchimp")
        self.sync_run.stage = "push" if push else "end"
        self._commit()
        if self.sync_run.created_count + self.sync_run.updated_count >= ANALYZE_AFTER:
            # the member table may have grown from nothing: plan the push's
            # queries on its real size, not on the statistics of an empty table
            self.env.cr.execute("ANALYZE mailchimp_member")
        return True

    def _pull_full_rest(self, client, path, maps, fields_wanted, walk, deadline):
        """What a full run reads besides the main walk: the archived members, and
        the linked members neither walk showed. False when ``deadline`` came."""
        # archived members are listed only when asked for (or with the others: then
        # those already read are not merged twice): read them so that a first sync
        # links them and the push does not add back what was deleted in Mailchimp
        # (F17); they do not move the mark
        archived = self._pull_walk(
            client,
            path,
            maps,
            fields_wanted,
            None,
            deadline,
            params={"status": "archived"},
            skip=walk.archived,
        )
        if archived is None:
            return False
        if walk.complete and archived.complete:
            return self._pull_confirm_missing(
                client, path, maps, fields_wanted, deadline
            )
        self._note(
            self.env._(
                "Mailchimp's member list was incomplete while it was read (it "
                "served fewer members than it counted, or kept changing): no "
                "member was marked archived. The next full sync checks again."
            )
        )
        return True

    def _pull_walk(
        self, client, path, maps, fields_wanted, since, deadline, params=None, skip=None
    ):
        """One walk over the audience's members (``MailchimpClient.pages_since``), each
        page merged and committed. The main walk (no ``params``) commits with each page
        the second a rerun must start from; ``skip``: (id, last_changed) not to merge
        again. Returns what the walk saw, or None when ``deadline`` came first."""
        account = self.pairing.account_id.sudo()
        inclusive = (account.since_semantics or {}).get(
            "since_last_changed"
        ) == "inclusive"
        margin = watermark_margin(self.env)
        seen = SimpleNamespace(
            complete=False, newest=None, started=None, archived=set()
        )
        pages = client.pages_since(
            path,
            "members",
            params=params,
            since=since,
            fields=fields_wanted,
            inclusive=inclusive,
        )
        done_before = self.sync_run.progress_done
        with closing(read_ahead(pages)) as pages:
            for number, page in enumerate(pages):
                if (
                    not number
                    and page.total is not None
                    and not (params is None and self.sync_run.pull_resumed)
                ):
                    # the listing's size: what this walk has left to read (a
                    # resumed walk reads again members the run has counted)
                    self.progress.expect(page.total)
                seen.started = seen.started or page.server_time
                if page.complete is not None:
                    seen.complete = page.complete
                if page.since_inclusive and not inclusive:
                    # Mailchimp showed a member of the very second it was asked from:
                    # its since_last_changed keeps that second, later walks ask from it
                    inclusive = True
                    self._learn_inclusive(account)
                if skip:
                    page = [
                        m for m in page if (m["id"], m.get("last_changed")) not in skip
                    ]
                if page:
                    self._pull_page_committed(page, maps, client)
                    _walk_saw(seen, page)
                    if params is None:
                        # cut off now, the run would go on from there
                        self._set_pull_mark(
                            sync_rules.first_second_to_read(
                                since, seen.newest, seen.started, margin, complete=False
                            )
                        )
                        self.sync_run.pull_resumed = True
                    self._commit()
                # a pass stops once it has moved the run on: a resumed walk's
                # first pages may be members it merged already
                if (
                    self._out_of_time(deadline)
                    and self.sync_run.progress_done > done_before
                ):
                    return None
        return seen

    def _learn_inclusive(self, account):
        """Remember on the account that its since_last_changed keeps the second
        asked from. The account's row is people's and other jobs' too: written
        apart from the run's pages, retried on a concurrent write."""
        semantics = dict(account.since_semantics or {}, since_last_changed="inclusive")
        self._write_apart(lambda: account.write({"since_semantics": semantics}))

    def _pull_confirm_missing(self, client, path, maps, fields_wanted, deadline):
        """After a complete full read: the linked members it did not see. Absence is
        not deletion: each is read from Mailchimp (a few directly, more as one
        /batches job of GETs). A 404 or an archived member is marked archived; any
        other member Mailchimp shows goes through the pull's merge (the listing simply
        did not show it). Returns False when the job outlasts ``deadline`` (the next
        pass reads its answers)."""
        Member = self.env["mailchimp.member"]
        missing = Member.search_fetch(
            [
                ("pairing_id", "=", self.pairing.id),
                ("last_seen_run_id", "!=", self.sync_run.id),
                ("status", "!=", "archived"),
            ],
            ["subscriber_hash"],
            order="id",
        )
        if not missing:
            # a job an earlier pass left for them: not needed now
            self.sync_run.push_batch_id = False
            return True
        self.progress.expect(len(missing))
        params = {"fields": ",".join(fields_wanted)}
        if len(missing) <= CONFIRM_DIRECTLY and not self.sync_run.push_batch_id:
            answers = self._read_each(client, path, missing, params)
        else:
            answers = self._read_by_batch(client, path, missing, params, deadline)
            if answers is None:
                return False
        gone = Member.browse(
            [member.id for member, status, _body in answers if status == 404]
        )
        shown = [body for _member, status, body in answers if status == 200 and body]
        gone.write({"status": "archived"})  # deleted for good in Mailchimp (F17)
        self._add(updated=len(gone))
        self.progress.add(len(gone))
        for chunk in split_every(1000, shown, list):
            self._pull_page_committed(chunk, maps, client)
        unconfirmed = len(missing) - len(gone) - len(shown)
        if unconfirmed:
            self._note(
                self.env._(
                    "%s members not seen by the full read could not be checked with "
                    "Mailchimp; they were left as they are.",
                    unconfirmed,
                )
            )
        self._count_requests(client)
        self._commit()
        return True

    def _read_each(self, client, path, members, params):
        """[(member, HTTP status, member as Mailchimp shows it)], one GET each."""
        answers = []
        for member in members:
            try:
                found = client.get(f"{path}/{member.subscriber_hash}", params=params)
            except mc_errors.MailchimpNotFoundError:
                answers.append((member, 404, None))
            else:
                answers.append((member, 200, found))
        return answers

    def _read_by_batch(self, client, path, members, params, deadline):
        """The same answers from one /batches job of GETs; None when the job
        outlasts ``deadline`` (committed: the next pass reads its answers)."""
        operations = [
            batch_jobs.operation(
                "get",
                member.id,
                "GET",
                f"{path}/{member.subscriber_hash}",
                None,
                params,
            )
            for member in members
        ]
        try:
            reuse = self._left_over_batch(client, deadline)
            results = batch_jobs.run_batch(client, operations, reuse, deadline)
        except batch_jobs.BatchStillRunning as waiting:
            self.sync_run.push_batch_id = waiting.batch_id
            self._count_requests(client)
            self._commit()
            return None
        by_id = {member.id: member for member in members}
        return [
            (
                by_id[batch_jobs.record_id(result)],
                result["status_code"],
                result["response"],
            )
            for result in results
        ]

    def _pull_mark(self):
        """The first second the next pull must read (whole epoch seconds), or None:
        the one place that reads where the pull stands (see _set_pull_mark)."""
        return sync_rules.mark_second(self.cursor.mailchimp_watermark)

    def _set_pull_mark(self, second):
        """Record, with the chunk being committed, the first second to read next."""
        self.cursor.mailchimp_watermark = sync_rules.mark_text(second)

    def _pull_page_committed(self, page, maps, client):
        """One page, in a savepoint, counted with the requests sent so far."""
        with self.env.cr.savepoint():
            self._pull_page(page, maps)
        self._count_requests(client)

    def _pull_page(self, page, maps, resumable=True):
        """Merge a page of members into the contacts: who is linked, who matches
        by email, then each member (``_pull_member``), then the page's writes in
        bulk and the consent hooks. Each member read is counted processed and in
        one outcome; ``resumable``: members this run merged already, read again
        by a resumed walk, are neither merged nor counted again (a webhook
        delivery, which counts each delivery, passes False)."""
        outcomes = self._outcomes()
        read_fields = maps.partner_fields() + ["create_date", "write_date"]
        by_hash, by_contact = self._page_links(page, read_fields)
        # a resumed run reads again the second it stopped in: what it merged
        # already is neither merged nor counted twice
        page = [
            m
            for m in page
            if not resumable
            or not self._merged_by_this_run(
                by_hash.get(m["id"]) or by_contact.get(m.get("contact_id")), m, maps
            )
        ]
        unlinked = [
            merge_values.normalize_email(member["email_address"])
            for member in page
            if member["id"] not in by_hash
            and member.get("contact_id") not in by_contact
        ]
        candidates, duplicates = self._partners_by_email(
            [email for email in unlinked if email], read_fields
        )
        work = PageWork(forgotten=self._forgotten_emails(unlinked))
        if self.sync_run.direction == "mailchimp2odoo":
            # with a push, the push reports them (F9); without, these contacts
            # are looked at here: processed, and skipped
            self._record_failures("mailchimp2odoo", duplicates, "skipped")
            work.counts["skipped"] += len(duplicates)
        else:
            duplicates = []
        for mc_member in page:
            member = by_hash.get(mc_member["id"]) or by_contact.get(
                mc_member.get("contact_id")
            )
            work.previous_status[mc_member["id"]] = member.status if member else None
            self._pull_member(work, mc_member, member, candidates, maps)
        self._rebase_pulled(work.written, maps)
        self._save_pulled_members(
            work.written, work.member_vals, work.to_create, maps, work.failures
        )
        self._add(**work.counts)
        self._record_failures("mailchimp2odoo", work.failures)
        self._record_failures("odoo2mailchimp", work.unsendable)
        self._record_failures("mailchimp2odoo", work.unlinkable, "skipped")
        processed = len(page) + len(duplicates)
        self._count_failed_rest(processed, outcomes)
        self.progress.add(processed)
        self.consent.after_page(page, work.previous_status)

    def _page_links(self, page, read_fields):
        """The page's members this sync already links, by subscriber hash and by
        Mailchimp contact id (one query), their contacts prefetched (one more)."""
        linked = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "=", self.pairing.id),
                "|",
                ("subscriber_hash", "in", [member["id"] for member in page]),
                (
                    "mailchimp_contact_id",
                    "in",
                    [m.get("contact_id") for m in page if m.get("contact_id")],
                ),
            ],
            [
                "subscriber_hash",
                "mailchimp_contact_id",
                "partner_id",
                "email",
                "status",
                "mailchimp_last_changed",
                "synced_values",
                "synced_fingerprint",
                "odoo_synced_values",
                "last_seen_run_id",
            ],
            order="id",
        )
        by_hash = {member.subscriber_hash: member for member in linked}
        by_contact = {
            member.mailchimp_contact_id: member
            for member in linked
            if member.mailchimp_contact_id
        }
        # prefetch the linked partners' mapped fields in one query
        linked.partner_id.with_context(active_test=False).fetch(read_fields)
        return by_hash, by_contact

    def _pull_member(self, work, mc_member, member, candidates, maps):
        """One member of a page: nothing new, skipped, a contact to create, an
        archived member linked as it is, or merged with its contact."""
        email = merge_values.normalize_email(mc_member["email_address"])
        last_changed = sync_rules.to_odoo_datetime(mc_member.get("last_changed"))
        mc_values = maps.normalize(mc_member.get("merge_fields") or {})
        if self._nothing_new(member, mc_member, email, last_changed, mc_values):
            # read again only because the pull reads again the seconds that were
            # still open (or what this sync itself sent): Mailchimp has nothing new
            # for it. A full run merges it all the
            # same (a new mapping, a missed change)
            work.counts["unchanged" if member.partner_id else "skipped"] += 1
            return
        common = self._pulled_member_common(mc_member, email, last_changed)
        if member:
            partner = member.partner_id
            if not partner:
                member.write(common)
                work.counts["skipped"] += 1
                return
        elif email in work.forgotten:
            work.counts["skipped"] += 1
            work.unlinkable.append(
                (
                    False,
                    email,
                    self.env._(
                        "Forgotten in Mailchimp at the person's request: not "
                        "linked to a contact, no contact created."
                    ),
                )
            )
            return
        else:
            partner = candidates.get(email)
        if not partner:
            pairing = self.pairing
            refused = sync_rules.creation_refused(
                mc_member["status"],
                self.sync_run.direction,
                pairing.create_missing,
                pairing.create_unsubscribed,
                pairing.create_cleaned,
            )
            if not refused:
                work.to_create.append(NewContact(mc_member, mc_values, common))
            else:
                work.counts["skipped"] += 1
            return
        if mc_member["status"] == "archived":
            # deleted in Mailchimp: keep the link
            # and the status, change nothing (F17)
            if member:
                member.write(common)
            else:
                work.member_vals.append(self._new_member(common, partner))
            work.counts["unchanged"] += 1
            return
        self._merge_member(work, mc_member, member, partner, common, mc_values, maps)

    def _merged_by_this_run(self, member, mc_member, maps):
        """This very run has merged the member as Mailchimp shows it now."""
        if not member or member.last_seen_run_id != self.sync_run:
            return False
        return self._same_as_stored(
            member,
            mc_member,
            merge_values.normalize_email(mc_member["email_address"]),
            sync_rules.to_odoo_datetime(mc_member.get("last_changed")),
            maps.normalize(mc_member.get("merge_fields") or {}),
        )

    def _nothing_new(self, member, mc_member, email, last_changed, mc_values):
        """A linked member Mailchimp shows as the sync last saw it (an incremental
        run only: a full run merges everything again)."""
        return not self.sync_run.full and self._same_as_stored(
            member, mc_member, email, last_changed, mc_values
        )

    def _same_as_stored(self, member, mc_member, email, last_changed, mc_values):
        """A linked member Mailchimp shows as the sync last saw it."""
        return bool(
            member
            and member.mailchimp_last_changed == last_changed
            and member.email == email
            and member.status == mc_member["status"]
            and merge_values.values_fingerprint(mc_values) == member.synced_fingerprint
            # interests are read only for syncs that map some (F14): stored as read
            and (
                "interests" not in mc_member
                or mc_member["interests"] == member.mailchimp_interests
            )
        )

    def _merge_member(self, work, mc_member, member, partner, common, mc_values, maps):
        """Three-way merge of a member with its contact: the contact written now
        (in a savepoint: one Odoo refuses does not stop the page), the member's
        values kept for the page's bulk write."""
        email = common["email"]
        if member:
            synced, odoo_synced = _member_bases(member)
        else:
            synced, odoo_synced = None, {}
        resolution, pending, odoo_now, odoo_errors = self._merge(
            partner, synced, odoo_synced, mc_values, maps, maps.push_only
        )
        odoo_vals, bad_values, pulled = self._pulled_vals(
            maps, resolution, partner, odoo_now, synced
        )
        refused = self._note_refused_values(
            partner,
            email,
            odoo_errors,
            bad_values,
            pending,
            work.failures,
            work.unsendable,
        )
        if (
            member
            and email != member.email
            and self.sync_run.direction != "odoo2mailchimp"
            and partner.email_normalized == member.email
        ):
            # renamed in Mailchimp (same contact
            # id): rename the contact, no duplicate
            odoo_vals["email"] = mc_member["email_address"]
        odoo_vals = maps.changed_vals(partner, odoo_vals)
        if odoo_vals:
            try:
                with self.env.cr.savepoint():
                    partner.with_context(**QUIET).write(odoo_vals)
            except (UserError, ValidationError, psycopg2.Error) as error:
                # one contact Odoo refuses to change does not stop the page
                work.failures.append((partner.id, email, str(error)))
                return
            work.counts["updated"] += 1
        elif not refused:
            # nothing to write in Odoo (a new link, or a change only Odoo has,
            # which the push sends and counts)
            work.counts["unchanged"] += 1
        # a value that differs on a first sync is settled by the rule, but there
        # was no change on both sides to be in conflict: counted apart
        first = len(resolution.first_sync_conflicts)
        work.counts["conflict"] += len(resolution.conflicts) - first
        work.counts["first_sync_diff"] += first
        vals = dict(
            common,
            synced_values=resolution.new_synced,
            odoo_synced_values=resolution.new_odoo_synced,
            need_push=bool(pending),
            last_sync_date=fields.Datetime.now(),
        )
        work.written.append(
            PulledMember(member, vals, partner, pulled, odoo_now, pending)
        )

    def _pulled_member_common(self, mc_member, email, last_changed):
        """The member's values as Mailchimp shows them, written whatever the merge."""
        common = {
            "email": email,
            "subscriber_hash": mc_member["id"],
            "mailchimp_contact_id": mc_member.get("contact_id"),
            "status": mc_member["status"],
            "mailchimp_last_changed": last_changed,
            "last_seen_run_id": self.sync_run.id,
        }
        if "interests" in mc_member:
            common["mailchimp_interests"] = mc_member["interests"]
        return common

    def _note_refused_values(
        self, partner, email, odoo_errors, bad_values, pending, failures, unsendable
    ):
        """A merged contact's values that a side refuses, as failures of the run:
        ``odoo_errors`` Odoo's values Mailchimp cannot take, ``bad_values``
        Mailchimp's values Odoo cannot take. True when a value of Mailchimp's
        was refused: the member failed, whatever else of it was written."""
        if self.sync_run.direction == "mailchimp2odoo":
            # no push to report them
            bad_values = list(odoo_errors.values()) + bad_values
        elif odoo_errors and not pending:
            # the push skips a contact this pull has merged: say it here
            unsendable.append((partner.id, email, "; ".join(odoo_errors.values())))
        if bad_values:
            failures.append((partner.id, email, "; ".join(bad_values)))
        return bool(bad_values)

    def _save_pulled_members(self, written, member_vals, to_create, maps, failures):
        """Write the merged members, then create the new ones with the contacts
        ``to_create`` (Mailchimp's members that no contact matched)."""
        for item in written:
            vals = item.vals
            vals["synced_fingerprint"] = merge_values.values_fingerprint(
                vals["synced_values"]
            )
            vals["partner_write_date"] = item.partner.write_date
            if item.member:
                item.member.write(vals)
            else:
                member_vals.append(self._new_member(vals, item.partner))
        if to_create:
            member_vals += self._create_partners(to_create, maps, failures)
        self.env["mailchimp.member"].create(member_vals)

    def _merge(self, partner, synced, odoo_synced, mc_values, maps, push_only):
        """Three-way merge, each side against its own base; tags Odoo must still push
        keep their old bases (the push compares them again).

        ``odoo_synced`` None: the member was synced before Odoo's base was kept
        (``sync_rules.legacy_odoo_base``). Odoo's values are written the way
        Mailchimp writes them where both mean the same (the hints: Mailchimp's
        base, then what it has now). A mapped Odoo value that cannot be
        converted (too long, not a number...) is left out of the merge and keeps
        its old bases: the push reports it, and the contact's other fields and
        status still sync.
        """
        odoo_now, odoo_errors = maps.mailchimp_values_checked(
            partner, [synced, mc_values]
        )
        if odoo_synced is None:
            odoo_synced = sync_rules.legacy_odoo_base(synced, odoo_now)
        resolution = sync_rules.resolve_fields(
            synced,
            odoo_now,
            mc_values,
            self.pairing.conflict_winner,
            self.sync_run.direction,
            push_only=push_only,
            tags=[tag for tag in mc_values if tag not in odoo_errors],
            odoo_synced=odoo_synced,
        )
        pending = dict(resolution.to_mailchimp)
        for tag in odoo_errors:
            for new, old in (
                (resolution.new_synced, synced or {}),
                (resolution.new_odoo_synced, odoo_synced),
            ):
                if tag in old:
                    new[tag] = old[tag]
                else:
                    new.pop(tag, None)
        for tag in pending:
            # Mailchimp's value as read now: the push combines Odoo's with it
            resolution.new_synced[tag] = merge_values.canonical(mc_values.get(tag))
            # Odoo's base as it was, so that the push sends the change
            resolution.new_odoo_synced[tag] = odoo_synced.get(tag, "")
        return resolution, pending, odoo_now, odoo_errors

    def _pulled_vals(self, maps, resolution, partner, odoo_now, synced):
        """Partner vals for what Mailchimp brings, the reasons of values Odoo refuses,
        and the tags pulled.

        A refused value is left out on both sides and reported: Odoo's base
        becomes Odoo's value (Odoo does not overwrite Mailchimp's) and
        Mailchimp's keeps its old one, so the next full read tries it again.
        """
        hints = [synced, resolution.new_synced]
        # all at once, unless a value is refused: then value by value
        with suppress(merge_values.MergeValueError):
            vals = maps.odoo_vals(resolution.to_odoo, partner, hints)
            return vals, [], set(resolution.to_odoo)
        good, errors = {}, []
        for tag, value in resolution.to_odoo.items():
            try:
                maps.odoo_vals({tag: value}, partner, hints)
            except merge_values.MergeValueError as error:
                errors.append(f"{tag}: {error.reason}")
                resolution.new_odoo_synced[tag] = merge_values.canonical(
                    odoo_now.get(tag)
                )
                if tag in (synced or {}):
                    resolution.new_synced[tag] = synced[tag]
                else:
                    resolution.new_synced.pop(tag, None)
            else:
                good[tag] = value
        return maps.odoo_vals(good, partner, hints), errors, set(good)

    def _rebase_pulled(self, written, maps):
        """Odoo's base of the contacts a pull has just written: what Odoo shows once
        it holds Mailchimp's values (in bulk for the page: the contacts are read and
        their computed fields computed once for all of them).

        A pulled tag's base is Odoo's value now, which may differ from Mailchimp's
        (a name split otherwise, a state Odoo lacks, the company of a parent
        company): that difference is not a change, so it is never sent back. A
        mapped value of another tag that the write changed (a field computed from
        a pulled one) is left to the push (``need_push``).
        """
        rewritten = [item for item in written if item.pulled]
        if not rewritten:
            return
        partners = self.env["res.partner"].browse(
            [item.partner.id for item in rewritten]
        )
        partners.fetch(maps.partner_fields())
        for item in rewritten:
            vals = item.vals
            now, _errors = maps.mailchimp_values_checked(
                item.partner, [vals["synced_values"]]
            )
            base = dict(vals["odoo_synced_values"])
            for tag, value in now.items():
                value = merge_values.canonical(value)
                if tag in item.pulled:
                    base[tag] = value
                elif tag not in item.pending and value != merge_values.canonical(
                    item.odoo_before.get(tag)
                ):
                    vals["need_push"] = True
            vals["odoo_synced_values"] = base

    def _partners_by_email(self, emails, read_fields):
        """The contact each email matches (F9):
        linked first, else the oldest, else lowest id.

        Returns ({email: partner}, [(partner id, email, reason)] for the others).
        """
        if not emails:
            return {}, []
        pairing = self.pairing
        domain = [
            ("email_normalized", "in", emails),
            ("mailchimp_forgotten", "=", False),
        ]
        if pairing.company_id:
            domain.append(("company_id", "in", (False, pairing.company_id.id)))
        partners = self.env["res.partner"].search_fetch(domain, read_fields)
        taken = set(
            self.env["mailchimp.member"]
            .search_fetch(
                [("pairing_id", "=", pairing.id), ("partner_id", "in", partners.ids)],
                ["partner_id"],
            )
            .partner_id.ids
        )
        contacts = [
            {
                "id": partner.id,
                "email": partner.email_normalized,
                "create_date": partner.create_date,
                "linked": False,
            }
            for partner in partners
            if partner.id not in taken
        ]
        winners, skipped = sync_rules.pick_winners(contacts)
        return (
            {
                email: partners.browse(contact["id"])
                for email, contact in winners.items()
            },
            [(contact["id"], contact["email"], reason) for contact, reason in skipped],
        )

    def _forgotten_emails(self, emails):
        """The addresses among ``emails`` that a contact forgotten in Mailchimp
        holds (one query): the person asked to be erased, so a member showing one
        again is neither linked nor made a contact."""
        emails = [email for email in emails if email]
        if not emails:
            return set()
        partners = (
            self.env["res.partner"]
            .with_context(active_test=False)
            .search_fetch(
                [
                    ("email_normalized", "in", emails),
                    ("mailchimp_forgotten", "=", True),
                ],
                ["email_normalized"],
            )
        )
        return set(partners.mapped("email_normalized"))

    def _create_partners(self, to_create, maps, failures):
        """Contacts that exist only in Mailchimp (F8), created in one batch."""
        pairing = self.pairing
        partner_vals, kept = [], []
        for new in to_create:
            mc_member, mc_values, common = new.member, new.values, new.common
            pullable = {tag: mc_values.get(tag) for tag in maps.pull_tags}
            try:
                vals = maps.odoo_vals(pullable)
            except merge_values.MergeValueError as error:
                failures.append((False, common["email"], error.reason))
                continue
            vals.setdefault("name", vals.get("name") or mc_member["email_address"])
            vals.update(
                {
                    "email": mc_member["email_address"],
                    "user_id": pairing.default_owner_id.id,
                    "company_id": pairing.company_id.id or False,
                }
            )
            if pairing.partner_tag_id:
                # so that the contact belongs to the segment and its changes go back
                vals["category_id"] = [Command.link(pairing.partner_tag_id.id)]
            partner_vals.append(vals)
            kept.append((common, mc_values, mc_member))
        partners = self.env["res.partner"].with_context(**QUIET).create(partner_vals)
        self._add(created_odoo=len(partners))
        self._note_created(partners)
        if self.sync_run.direction == "both":
            # in the segment (the sync's tag), the push reads them next
            self.progress.expect_later(len(partners))
        # once for the page: another app's addon (CRM) acts on them in bulk
        self.sync_run._mailchimp_contacts_created(
            partners, [mc_member for _common, _values, mc_member in kept]
        )
        now = fields.Datetime.now()
        member_vals = []
        # Odoo's base: the new contacts as Odoo
        # shows them, read and computed once for all
        partners.fetch(maps.partner_fields() + ["write_date"])
        for partner, (common, synced, _mc_member) in zip(partners, kept, strict=True):
            odoo_synced, _errors = maps.mailchimp_values_checked(partner, [synced])
            member_vals.append(
                self._new_member(
                    dict(
                        common,
                        synced_values=synced,
                        synced_fingerprint=merge_values.values_fingerprint(synced),
                        odoo_synced_values={
                            tag: merge_values.canonical(value)
                            for tag, value in odoo_synced.items()
                        },
                        last_sync_date=now,
                        partner_write_date=partner.write_date,
                    ),
                    partner,
                )
            )
        return member_vals

    def _note_created(self, partners):
        """One note in each new contact's chatter saying which sync (or which
        sync's webhook) created it from which audience: one batch for the page,
        no notification (its date says when)."""
        if not partners:
            return
        pairing, env = self.pairing, self.env
        names = {"sync": pairing.name, "audience": pairing.audience_id.name}
        if self.sync_run.trigger == "webhook":
            body = env._(
                "Created from Mailchimp by the webhook of the sync %(sync)s, audience "
                "%(audience)s.",
                **names,
            )
        else:
            body = env._(
                "Created from Mailchimp by the sync %(sync)s, audience %(audience)s.",
                **names,
            )
        partners.sudo()._message_log_batch(
            bodies=dict.fromkeys(partners.ids, escape(body))
        )


def _member_bases(member):
    """(Mailchimp's base, Odoo's base) of a linked member: the values each side held
    at its last sync. Odoo's is None for a member synced before it was kept."""
    synced = member.synced_values or {}
    odoo_synced = member.odoo_synced_values
    if odoo_synced is None or odoo_synced is False:
        odoo_synced = None if synced else {}
    return synced, odoo_synced


def _walk_saw(seen, page):
    """A walk's newest second and archived members, with a merged page's."""
    seconds = [sync_rules.mark_second(m["last_changed"]) for m in page]
    if seen.newest is not None:
        seconds.append(seen.newest)
    seen.newest = max(seconds)
    seen.archived.update(
        (m["id"], m["last_changed"]) for m in page if m["status"] == "archived"
    )
