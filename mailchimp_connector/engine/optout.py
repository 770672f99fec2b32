# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A person's request carried to Mailchimp for chosen members: unsubscribe them,
or erase them for good (GDPR, ``actions/delete-permanent``).

Both work in bulk per account and audience: unsubscribing is one batch subscribe
call per 500 members of an audience (it answers at once, member by member);
erasing is a direct call for a handful of members, else one ``/batches`` job.
Only what Mailchimp confirms is written to the members; whatever it refused is
returned with its reason and left as it was.
"""

import time
from collections import defaultdict
from dataclasses import dataclass, field

from odoo.exceptions import UserError

from ..utils import batch_jobs, sync_rules
from ..utils import mailchimp_errors as mc_errors
from ..utils.mailchimp_keys import subscriber_hash
from .step import op_reason

# members erased by direct calls up to this many per account, else by one job
DELETE_DIRECTLY = 5
# how long a person waits for an erasure job before being told to come back:
# within an HTTP worker's time limit
BATCH_WAIT_SECONDS = 60
# statuses a member can be unsubscribed from; the others are already out
UNSUBSCRIBABLE = ("subscribed", "pending", "transactional")


@dataclass
class OptOutResult:
    """What Mailchimp did: ``done`` the members it changed (or had already erased),
    ``unchanged`` those with nothing to do, ``failures`` [(member, reason)]."""

    done: object
    unchanged: object
    failures: list = field(default_factory=list)
    requests: int = 0

    def failed_members(self):
        ids = dict.fromkeys(member.id for member, _reason in self.failures)
        return self.done.browse(list(ids))


class MemberOptOut:
    """Unsubscribe or erase ``members`` (``mailchimp.member``, any syncs and
    accounts) in Mailchimp. Members of several syncs sharing an audience and an
    address are one Mailchimp member: sent once, all of them written."""

    def __init__(self, members):
        self.members = members.sudo()
        self.env = self.members.env

    def unsubscribe(self):
        """Status ``unsubscribed`` for every member that is still in, by batch
        subscribe (``update_existing``); the members written with Mailchimp's answer."""
        to_send = self.members.filtered(lambda m: m.status in UNSUBSCRIBABLE)
        result = OptOutResult(done=to_send.browse(), unchanged=self.members - to_send)
        for account, lists in self._by_account(to_send).items():
            client = self._client(account, lists, result)
            if client is None:
                continue
            with client:
                for list_id, by_hash in lists.items():
                    self._unsubscribe_list(client, account, list_id, by_hash, result)
                result.requests += client.take_request_count()
        return result

    def _client(self, account, lists, result):
        """The account's client, or None with its members failed (no API key)."""
        try:
            return account._get_client()
        except UserError as error:
            result.failures += [
                (member, str(error))
                for by_hash in lists.values()
                for members in by_hash.values()
                for member in members
            ]
            return None

    def _unsubscribe_list(self, client, account, list_id, by_hash, result):
        payload = [
            {"email_address": members[0].email, "status": "unsubscribed"}
            for members in by_hash.values()
        ]
        try:
            answer = client.batch_subscribe(list_id, payload, update_existing=True)
        except mc_errors.MailchimpError as error:
            answer = error.partial_result
            reason = account._mailchimp_error_message(error)
        else:
            reason = None
        # one write per distinct answer (a batch's members share their second)
        written, confirmed = defaultdict(list), set()
        for mc_member in answer.created + answer.updated:
            members = by_hash.get(mc_member.get("id"))
            if members:
                confirmed.add(mc_member["id"])
                key = (mc_member.get("status"), mc_member.get("last_changed"))
                written[key] += [member.id for member in members]
        Member = self.env["mailchimp.member"]
        for (status, last_changed), ids in written.items():
            Member.browse(ids).write(
                {
                    "status": status or "unsubscribed",
                    "mailchimp_last_changed": sync_rules.to_odoo_datetime(last_changed),
                }
            )
            result.done |= Member.browse(ids)
        refused = {
            subscriber_hash(error["email_address"]): error["error"]
            for error in answer.errors
            if error.get("email_address")
        }
        for hash_, members in by_hash.items():
            if hash_ in confirmed:
                continue
            why = (
                refused.get(hash_) or reason or self.env._("Mailchimp did not answer.")
            )
            result.failures += [(member, why) for member in members]

    def delete_permanent(self):
        """Erase every member for good; one Mailchimp no longer has counts as
        erased. Returned in ``done``: the caller removes them from Odoo."""
        empty = self.members.browse()
        result = OptOutResult(done=empty, unchanged=empty)
        for account, lists in self._by_account(self.members).items():
            targets = [
                (list_id, hash_, members)
                for list_id, by_hash in lists.items()
                for hash_, members in by_hash.items()
            ]
            client = self._client(account, lists, result)
            if client is None:
                continue
            with client:
                if len(targets) <= DELETE_DIRECTLY:
                    answers = self._delete_each(client, account, targets)
                else:
                    answers = self._delete_by_batch(client, account, targets)
                result.requests += client.take_request_count()
            erased = []
            for members, reason in answers:
                if reason:
                    result.failures += [(member, reason) for member in members]
                else:
                    erased += [member.id for member in members]
            result.done |= result.done.browse(erased)
        return result

    def _delete_each(self, client, account, targets):
        answers = []
        for list_id, hash_, members in targets:
            try:
                client.post(_erase_path(list_id, hash_))
            except mc_errors.MailchimpNotFoundError:
                answers.append((members, None))  # already gone
            except mc_errors.MailchimpError as error:
                answers.append((members, account._mailchimp_error_message(error)))
            else:
                answers.append((members, None))
        return answers

    def _delete_by_batch(self, client, account, targets):
        operations = [
            batch_jobs.operation(
                "forget", members[0].id, "POST", _erase_path(list_id, hash_), None
            )
            for list_id, hash_, members in targets
        ]
        by_id = {members[0].id: members for _list_id, _hash, members in targets}
        try:
            results = batch_jobs.run_batch(
                client, operations, deadline=time.monotonic() + BATCH_WAIT_SECONDS
            )
        except batch_jobs.BatchStillRunning:
            reason = self.env._(
                "Mailchimp is still erasing these members. Run Forget in Mailchimp "
                "again on the same contacts in a few minutes to confirm it."
            )
            return [(members, reason) for members in by_id.values()]
        except mc_errors.MailchimpError as error:
            reason = account._mailchimp_error_message(error)
            return [(members, reason) for members in by_id.values()]
        answers, answered = [], set()
        for answer in results:
            members = by_id[batch_jobs.record_id(answer)]
            answered.add(members[0].id)
            ok = answer["status_code"] in (200, 204, 404)
            answers.append((members, None if ok else op_reason(answer)))
        missing = self.env._("Mailchimp did not answer for this member.")
        answers += [
            (members, missing)
            for member_id, members in by_id.items()
            if member_id not in answered
        ]
        return answers

    def _by_account(self, members):
        """{account: {list id: {subscriber hash: [members]}}}, in id order."""
        grouped = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        for member in members.sorted("id"):
            pairing = member.pairing_id
            grouped[pairing.account_id][pairing.audience_id.mailchimp_list_id][
                member.subscriber_hash
            ].append(member)
        return grouped


def _erase_path(list_id, hash_):
    return f"/lists/{list_id}/members/{hash_}/actions/delete-permanent"
