"""Sandbox: control API (reset, seeding, accounts,
raw state) and the command line entry point."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID, subscriber_hash

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

AUTH = ("anystring", DEFAULT_API_KEY)
ROOT = Path(__file__).resolve().parent.parent


def test_seed_100k_members(sandbox):
    t0 = time.perf_counter()
    r = requests.post(
        sandbox.url + f"/_sandbox/lists/{DEFAULT_LIST_ID}/seed",
        json={"count": 100_000, "merge_fields": {"FNAME": "Seed {n}", "LNAME": "X"}},
        timeout=TIMEOUT,
    )
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200
    assert r.json()["created"] == 100_000
    # the timing, for whoever runs the test with -s; nothing asserts it
    print(f"seeded 100,000 members in {elapsed:.2f}s")  # pylint: disable=print-used
    api = sandbox.api_url("us1")
    lst = requests.get(
        f"{api}/lists/{DEFAULT_LIST_ID}", auth=AUTH, timeout=TIMEOUT
    ).json()
    assert lst["stats"]["member_count"] == 100_000
    page = requests.get(
        f"{api}/lists/{DEFAULT_LIST_ID}/members",
        auth=AUTH,
        params={
            "count": 1000,
            "offset": 99_500,
            "fields": "members.email_address,members.merge_fields,total_items",
        },
        timeout=TIMEOUT,
    ).json()
    assert page["total_items"] == 100_000 and len(page["members"]) == 500
    assert page["members"][-1]["email_address"] == "member099999@seed-mail.com"
    assert page["members"][-1]["merge_fields"]["FNAME"] == "Seed 99999"
    # re-seeding the same range adds nothing; start shifts the range
    again = requests.post(
        sandbox.url + f"/_sandbox/lists/{DEFAULT_LIST_ID}/seed",
        json={"count": 10, "start": 99_995, "status": "unsubscribed"},
        timeout=TIMEOUT,
    ).json()
    assert again["created"] == 5 and again["total_members"] == 100_005


def test_reset_restores_defaults(sandbox):
    api = sandbox.api_url("us1")
    requests.post(
        f"{api}/lists/{DEFAULT_LIST_ID}/merge-fields",
        auth=AUTH,
        json={"name": "X", "type": "text"},
        timeout=TIMEOUT,
    )
    sandbox.state.seed(DEFAULT_LIST_ID, 10)
    sandbox.state.create_list(name="Extra")
    sandbox.state.set_latency(0.01)
    sandbox.state.add_fault(500, count=100, path_pattern="^/nothing$")
    sandbox.state.create_account(api_key="0" * 32 + "-us9")
    r = requests.post(sandbox.url + "/_sandbox/reset", timeout=TIMEOUT)
    assert r.status_code == 200
    lists = requests.get(f"{api}/lists", auth=AUTH, timeout=TIMEOUT).json()
    assert [audience["id"] for audience in lists["lists"]] == [DEFAULT_LIST_ID]
    assert lists["lists"][0]["stats"]["total_contacts"] == 0
    assert (
        requests.get(
            f"{api}/lists/{DEFAULT_LIST_ID}/merge-fields", auth=AUTH, timeout=TIMEOUT
        ).json()["total_items"]
        == 6
    )
    assert sandbox.state.latency == 0 and sandbox.state.faults.list() == []
    assert (
        requests.get(
            sandbox.url + "/us9/3.0/ping",
            auth=("x", "0" * 32 + "-us9"),
            timeout=TIMEOUT,
        ).status_code
        == 401
    )
    assert (
        len(
            requests.get(sandbox.url + "/_sandbox/requests", timeout=TIMEOUT).json()[
                "requests"
            ]
        )
        == 3
    )


def test_account_with_default_list_and_isolation(sandbox):
    key = "1234567890abcdef1234567890abcdef-us3"
    acct = requests.post(
        sandbox.url + "/_sandbox/accounts",
        json={
            "api_key": key,
            "account_name": "Three",
            "email": "c@acme-mail.com",
            "default_list": True,
        },
        timeout=TIMEOUT,
    ).json()
    assert len(acct["lists"]) == 1 and "api_key_last4" in acct
    api = sandbox.api_url("us3")
    lists = requests.get(f"{api}/lists", auth=("x", key), timeout=TIMEOUT).json()
    assert [audience["id"] for audience in lists["lists"]] == acct["lists"]
    assert lists["lists"][0]["name"] == "Newsletter"
    r = requests.post(
        sandbox.url + "/_sandbox/accounts",
        json={"api_key": "short-us1"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 400


def test_raw_member_state(sandbox):
    sandbox.state.add_member(
        DEFAULT_LIST_ID, "raw@acme-mail.com", merge_fields={"FNAME": "R"}, tags=["t1"]
    )
    raw_hash = subscriber_hash("raw@acme-mail.com")
    r = requests.get(
        sandbox.url + f"/_sandbox/state/{DEFAULT_LIST_ID}/members/{raw_hash}",
        timeout=TIMEOUT,
    )
    assert r.status_code == 200
    raw = r.json()
    assert raw["email"] == "raw@acme-mail.com" and raw["merge_fields"] == {"FNAME": "R"}
    assert list(raw["tags"]) == ["t1"] and raw["compliance"] is False
    assert isinstance(raw["last_changed"], int)  # microsecond ticks as stored
    r = requests.get(
        sandbox.url + f"/_sandbox/state/{DEFAULT_LIST_ID}/members/raw@acme-mail.com",
        timeout=TIMEOUT,
    )
    assert r.json()["id"] == raw["id"]
    assert (
        requests.get(
            sandbox.url + f"/_sandbox/state/{DEFAULT_LIST_ID}/members/nobody",
            timeout=TIMEOUT,
        ).status_code
        == 404
    )
    assert (
        requests.get(
            sandbox.url + "/_sandbox/state/nolist/members/x", timeout=TIMEOUT
        ).status_code
        == 404
    )
    assert (
        requests.get(sandbox.url + "/_sandbox/nope", timeout=TIMEOUT).status_code == 404
    )
    assert (
        requests.get(sandbox.url + "/_sandbox/health", timeout=TIMEOUT).json()["status"]
        == "ok"
    )


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_command_line_entry_point():
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "sandbox"), MAILCHIMP_SANDBOX_SEED="3")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailchimp_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 10
        while True:
            try:
                r = requests.get(
                    f"http://127.0.0.1:{port}/us1/3.0/lists/{DEFAULT_LIST_ID}",
                    auth=AUTH,
                    timeout=1,
                )
                break
            except requests.ConnectionError:
                assert time.time() < deadline, (
                    proc.stderr.read1().decode()
                    if proc.poll() is not None
                    else "no start"
                )
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["stats"]["member_count"] == 3
    finally:
        proc.terminate()
        proc.wait(5)
