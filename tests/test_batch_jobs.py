"""A /batches job waited for within a deadline and taken up again (batch_jobs)."""

import time

import pytest

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID
from mailchimp_utils import batch_jobs
from mailchimp_utils.mailchimp_client import MailchimpClient
from mailchimp_utils.mailchimp_keys import subscriber_hash


@pytest.fixture()
def client(sandbox):
    with MailchimpClient(DEFAULT_API_KEY, base_url=sandbox.api_url("us1")) as client:
        yield client


def upsert(email, name="Ann"):
    return batch_jobs.operation(
        "put",
        abs(hash(email)) % 10**6,
        "PUT",
        f"/lists/{DEFAULT_LIST_ID}/members/{subscriber_hash(email)}",
        {
            "email_address": email,
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": name},
        },
    )


def test_an_operation_id_names_the_request():
    body = {
        "email_address": "a@corp.com",
        "merge_fields": {"FNAME": "Ann", "LNAME": "Lee"},
    }
    # key order is no change
    same = dict(body, merge_fields={"LNAME": "Lee", "FNAME": "Ann"})
    first = batch_jobs.operation_id("put", 42, "PUT", "/lists/L/members/h", body)
    assert first.startswith("put-42-")
    assert batch_jobs.record_id({"operation_id": first}) == 42
    assert first == batch_jobs.operation_id(
        "put", 42, "PUT", "/lists/L/members/h", same
    )
    changed = dict(body, merge_fields={"FNAME": "Anne", "LNAME": "Lee"})
    assert first != batch_jobs.operation_id(
        "put", 42, "PUT", "/lists/L/members/h", changed
    )
    assert first != batch_jobs.operation_id(
        "patch", 42, "PUT", "/lists/L/members/h", body
    )


def test_run_batch_sends_one_job_and_returns_every_answer(client, sandbox):
    operations = [upsert(f"job{i}@corp.com") for i in range(30)]
    results = batch_jobs.run_batch(client, operations)
    assert sorted(r["operation_id"] for r in results) == sorted(
        o["operation_id"] for o in operations
    )
    assert {r["status_code"] for r in results} == {200}
    assert len(sandbox.state.batches.all()) == 1


def test_a_job_just_submitted_is_polled_after_a_wait_not_at_once(client, sandbox):
    """Mailchimp never finishes a job the instant it is submitted: the first poll
    after a wait saves the request the immediate one wasted."""
    sandbox.state.clear_request_log()
    slept = []
    client.sleep = lambda seconds: (slept.append(seconds), time.sleep(seconds))
    batch_jobs.run_batch(client, [upsert(f"wait{i}@corp.com") for i in range(30)])
    calls = [
        f"{entry['method']} {entry['api_path']}"
        for entry in sandbox.state.request_log()
    ]
    assert calls[0] == "POST /batches"
    assert slept[0] == batch_jobs.FIRST_POLL_SECONDS
    # a job of 30 upserts is done within half a second: one poll, then its results
    assert [call.split("/")[1] for call in calls[1:]] == ["batches"]
    assert len(sandbox.state.batches.all()) == 1


def test_past_the_deadline_the_job_is_left_running_then_its_answers_are_reused(
    client, sandbox
):
    sandbox.state.batches.pause(True)  # Mailchimp has not started it yet
    operations = [upsert(f"slow{i}@corp.com") for i in range(20)]
    started = time.monotonic()
    with pytest.raises(batch_jobs.BatchStillRunning) as waiting:
        batch_jobs.run_batch(client, operations, deadline=time.monotonic() + 1)
    assert time.monotonic() - started < 5
    batch_id = waiting.value.batch_id
    assert sandbox.state.batches.get(batch_id).status == "pending"

    sandbox.state.batches.pause(False)
    reuse = batch_jobs.reusable_results(batch_jobs.wait_for_results(client, batch_id))
    assert len(reuse) == 20
    # one contact changed meanwhile: only its request is new and sent again
    operations[3] = upsert("slow3@corp.com", name="Changed")
    results = batch_jobs.run_batch(client, operations, reuse=reuse)
    assert len(results) == 20
    batches = sandbox.state.batches.all()
    assert len(batches) == 2 and batches[-1].total == 1
    member = client.get(
        f"/lists/{DEFAULT_LIST_ID}/members/{subscriber_hash('slow3@corp.com')}"
    )
    assert member["merge_fields"]["FNAME"] == "Changed"


def test_throttled_and_server_errors_are_not_reused():
    results = [
        {"operation_id": "put-1-a", "status_code": 200, "response": {}},
        {
            "operation_id": "put-2-b",
            "status_code": 400,
            "response": {"title": "Invalid Resource"},
        },
        {"operation_id": "put-3-c", "status_code": 429, "response": {}},
        {"operation_id": "put-4-d", "status_code": 503, "response": {}},
    ]
    assert set(batch_jobs.reusable_results(results)) == {"put-1-a", "put-2-b"}
