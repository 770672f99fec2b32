"""Sandbox: webhook creation (URL validation),
delivery format and the events/sources filters."""

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
import requests

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

AUTH = ("anystring", DEFAULT_API_KEY)
L = f"/lists/{DEFAULT_LIST_ID}"


class Receiver:
    """Tiny webhook endpoint: answers 200 (or ``status``) and records calls."""

    def __init__(self, status=200):
        self.calls = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                receiver.calls.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "ua": self.headers.get("User-Agent"),
                        "ctype": self.headers.get("Content-Type"),
                        "form": dict(parse_qsl(body)),
                    }
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _record

        self.status = status
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def posts(self, path=None):
        return [
            c
            for c in self.calls
            if c["method"] == "POST" and (path is None or c["path"] == path)
        ]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


def deliveries(sandbox):
    return requests.get(
        sandbox.url + "/_sandbox/webhooks/deliveries",
        params={"wait": 1},
        timeout=TIMEOUT,
    ).json()["deliveries"]


def hook(api, url, events=None, sources=None):
    body = {"url": url}
    if events is not None:
        body["events"] = events
    if sources is not None:
        body["sources"] = sources
    r = api.post(f"{L}/webhooks", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_creation_validates_url_with_get(api, receiver):
    created = hook(api, receiver.url + "/mc?secret=s3")
    assert receiver.calls[0]["method"] == "GET"
    assert receiver.calls[0]["ua"] == "MailChimp.com WebHook Validator"
    assert created["events"]["subscribe"] is True and created["sources"]["api"] is False
    receiver.status = 404
    r = api.post(f"{L}/webhooks", json={"url": receiver.url + "/other"})
    assert r.status_code == 400 and r.json()["title"] == "Invalid Resource"
    assert r.json()["errors"][0]["field"] == "url"
    r = api.post(f"{L}/webhooks", json={"url": "http://127.0.0.1:9/nothing-listens"})
    assert r.status_code == 400


def test_validation_can_be_switched_off(api, sandbox):
    requests.post(
        sandbox.url + "/_sandbox/webhooks/validation",
        json={"enabled": False},
        timeout=TIMEOUT,
    ).raise_for_status()
    created = hook(api, "http://127.0.0.1:9/no-receiver")
    assert (
        api.get(f"{L}/webhooks/{created['id']}").json()["url"]
        == "http://127.0.0.1:9/no-receiver"
    )


def test_webhook_crud(api, receiver):
    w = hook(
        api, receiver.url + "/a", events={"subscribe": True}, sources={"user": True}
    )
    assert w["events"]["unsubscribe"] is False and w["sources"]["admin"] is False
    upd = api.patch(
        f"{L}/webhooks/{w['id']}", json={"events": {"unsubscribe": True}}
    ).json()
    assert upd["events"]["subscribe"] is True and upd["events"]["unsubscribe"] is True
    assert api.get(f"{L}/webhooks").json()["total_items"] == 1
    assert api.delete(f"{L}/webhooks/{w['id']}").status_code == 204
    assert api.get(f"{L}/webhooks/{w['id']}").status_code == 404


def test_member_action_delivers_form_encoded_payload(api, sandbox, receiver):
    hook(api, receiver.url + "/hook")
    r = requests.post(
        sandbox.url + f"/_sandbox/lists/{DEFAULT_LIST_ID}/member-action",
        json={
            "email": "pat@acme-mail.com",
            "action": "subscribe",
            "source": "user",
            "merges": {"FNAME": "Pat"},
        },
        timeout=TIMEOUT,
    )
    assert r.status_code == 200
    out = r.json()
    assert out["member"]["status"] == "subscribed"
    assert [d["status"] for d in out["deliveries"]] == [200]
    call = receiver.posts("/hook")[0]
    assert call["ctype"] == "application/x-www-form-urlencoded"
    form = call["form"]
    assert form["type"] == "subscribe"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", form["fired_at"])
    assert (
        form["data[email]"] == "pat@acme-mail.com"
        and form["data[list_id]"] == DEFAULT_LIST_ID
    )
    assert form["data[merges][FNAME]"] == "Pat" and form["data[email_type]"] == "html"
    assert form["data[id]"]
    # unsubscribe by the person, with reason
    requests.post(
        sandbox.url + f"/_sandbox/lists/{DEFAULT_LIST_ID}/member-action",
        json={"email": "pat@acme-mail.com", "action": "unsubscribe", "source": "user"},
        timeout=TIMEOUT,
    )
    form = receiver.posts("/hook")[-1]["form"]
    assert (
        form["type"] == "unsubscribe"
        and form["data[reason]"] == "manual"
        and form["data[action]"] == "unsub"
    )
    assert (
        sandbox.state.get_member(DEFAULT_LIST_ID, "pat@acme-mail.com")["status"]
        == "unsubscribed"
    )


def test_upemail_and_cleaned_payloads(api, sandbox, receiver):
    hook(api, receiver.url + "/hook")
    sandbox.state.add_member(DEFAULT_LIST_ID, "old@acme-mail.com")
    res = sandbox.state.member_action(
        DEFAULT_LIST_ID,
        "old@acme-mail.com",
        "upemail",
        source="admin",
        new_email="new@acme-mail.com",
    )
    assert res["deliveries"][0]["status"] == 200
    form = receiver.posts()[-1]["form"]
    assert form["type"] == "upemail"
    assert (form["data[old_email]"], form["data[new_email]"]) == (
        "old@acme-mail.com",
        "new@acme-mail.com",
    )
    assert form["data[new_id]"]
    sandbox.state.member_action(
        DEFAULT_LIST_ID, "new@acme-mail.com", "cleaned", source="admin"
    )
    form = receiver.posts()[-1]["form"]
    assert form["type"] == "cleaned" and form["data[reason]"] == "hard"
    assert form["data[email]"] == "new@acme-mail.com"


def test_sources_filter_prevents_api_echo(api, sandbox, receiver):
    hook(
        api,
        receiver.url + "/no-api",
        sources={"user": True, "admin": True, "api": False},
    )
    hook(
        api,
        receiver.url + "/with-api",
        sources={"user": True, "admin": True, "api": True},
    )
    email = "echo@acme-mail.com"
    api.put(
        f"{L}/members/{email}",
        json={
            "email_address": email,
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "E"},
        },
    ).raise_for_status()
    api.patch(
        f"{L}/members/{email}", json={"merge_fields": {"FNAME": "F"}}
    ).raise_for_status()
    api.patch(
        f"{L}/members/{email}", json={"status": "unsubscribed"}
    ).raise_for_status()
    done = deliveries(sandbox)
    assert [d["type"] for d in done] == ["subscribe", "profile", "unsubscribe"]
    assert all(d["source"] == "api" and d["url"].endswith("/with-api") for d in done)
    assert [c["form"]["type"] for c in receiver.posts("/with-api")] == [
        "subscribe",
        "profile",
        "unsubscribe",
    ]
    assert receiver.posts("/no-api") == []
    # a user-sourced change reaches both
    sandbox.state.member_action(
        DEFAULT_LIST_ID, email, "profile", source="user", merges={"LNAME": "Z"}
    )
    assert (
        len(receiver.posts("/no-api")) == 1
        and receiver.posts("/no-api")[0]["form"]["data[merges][LNAME]"] == "Z"
    )


def test_events_filter(api, sandbox, receiver):
    hook(
        api,
        receiver.url + "/subs-only",
        events={"subscribe": True},
        sources={"user": True},
    )
    sandbox.state.member_action(
        DEFAULT_LIST_ID, "ev@acme-mail.com", "subscribe", source="user"
    )
    sandbox.state.member_action(
        DEFAULT_LIST_ID,
        "ev@acme-mail.com",
        "profile",
        source="user",
        merges={"FNAME": "x"},
    )
    res = sandbox.state.member_action(
        DEFAULT_LIST_ID, "ev@acme-mail.com", "unsubscribe", source="admin"
    )
    assert res["deliveries"] == []
    assert [c["form"]["type"] for c in receiver.posts()] == ["subscribe"]


def test_failed_delivery_is_reported(api, sandbox):
    requests.post(
        sandbox.url + "/_sandbox/webhooks/validation",
        json={"enabled": False},
        timeout=TIMEOUT,
    )
    hook(api, "http://127.0.0.1:9/down", sources={"user": True})
    t0 = time.perf_counter()
    res = sandbox.state.member_action(
        DEFAULT_LIST_ID, "down@acme-mail.com", "subscribe"
    )
    assert time.perf_counter() - t0 < 10
    assert res["deliveries"][0]["status"] == 0 and res["deliveries"][0]["error"]
