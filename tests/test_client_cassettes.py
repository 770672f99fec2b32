"""MailchimpClient against recorded Mailchimp exchanges (vcrpy cassettes).

Each test replays ``tests/cassettes/<test name>.yaml``.

Normal runs and CI: replay only
    ``python -m pytest tests/test_client_cassettes.py``.  The cassettes are
    played with ``record_mode="none"``: every request the client sends must
    match a recorded one on method + path + query + body (never the host), a
    request that matches nothing fails the test, and nothing touches the
    network (the replay client points at ``https://mailchimp.invalid/3.0``,
    a name that cannot resolve).  Each test also checks that every recorded
    exchange was played.

Re-record against a fresh sandbox (the usual way)
    ``MAILCHIMP_RECORD=sandbox python -m pytest tests/test_client_cassettes.py``.
    Each test starts the project's sandbox (``sandbox/mailchimp_sandbox``) on a
    free loopback port with its default key and "Newsletter" audience, deletes
    its old cassette and records a new one.

Re-record against a real Mailchimp account
    ``MAILCHIMP_RECORD=1 MAILCHIMP_API_KEY=<32 hex>-<dc>
    [MAILCHIMP_TEST_EMAIL_DOMAIN=your-domain.org] python -m pytest
    tests/test_client_cassettes.py``.
    Calls go to ``https://<dc>.api.mailchimp.com/3.0``.  Use a test account:
    the tests add and update members ``cassette.*@<domain>`` in the audience
    named "Newsletter" (else the first audience).  Mailchimp refuses
    ``example.com`` addresses as fake, so set MAILCHIMP_TEST_EMAIL_DOMAIN to a
    real domain; the recording writes it back as ``example.com`` (and the
    subscriber hashes accordingly) so that replays match.  Review the diff
    before committing: ``GET /`` records the account's name and contact
    details, ``GET /lists`` the audience names.

What is scrubbed while recording (and applied again to every replayed request)
    the Authorization header (``filter_headers``), the API key anywhere in a
    URL, body or header, the recording host, port and data-center prefix
    (``http://127.0.0.1:54321/us1/3.0`` or ``https://us6.api.mailchimp.com/3.0``
    become ``https://mailchimp.invalid/3.0``), Set-Cookie headers and the
    recording email domain.  ``test_cassettes_hold_no_secret`` checks the files.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import vcr

from mailchimp_utils import mailchimp_errors as errors
from mailchimp_utils.mailchimp_client import AUTH_USERNAME, MailchimpClient
from mailchimp_utils.mailchimp_keys import basic_auth_token, redact, subscriber_hash

CASSETTES = Path(__file__).resolve().parent / "cassettes"
CANONICAL_BASE = "https://mailchimp.invalid/3.0"
CANONICAL_HOST = "mailchimp.invalid"
# never sent anywhere: replays are offline
REPLAY_KEY = "0123456789abcdef0123456789abcdef-us1"
EMAIL_DOMAIN = "example.com"
AUDIENCE_NAME = "Newsletter"
RECORD = os.environ.get("MAILCHIMP_RECORD", "").strip().lower()


def _email(local, domain=EMAIL_DOMAIN):
    return f"cassette.{local}@{domain}"


class _Target:
    """Where the client talks to: a replay placeholder, the sandbox or the real API."""

    def __init__(self, api_key, base_url, email_domain=EMAIL_DOMAIN):
        self.api_key = api_key
        self.base_url = base_url
        self.email_domain = email_domain


def _target(request):
    if not RECORD:
        return _Target(REPLAY_KEY, CANONICAL_BASE)
    domain = (
        os.environ.get("MAILCHIMP_TEST_EMAIL_DOMAIN", "").strip().lower()
        or EMAIL_DOMAIN
    )
    if RECORD == "sandbox":
        from mailchimp_sandbox import DEFAULT_API_KEY  # only needed when recording

        sandbox = request.getfixturevalue("sandbox")
        return _Target(DEFAULT_API_KEY, sandbox.api_url("us1"), domain)
    api_key = os.environ.get("MAILCHIMP_API_KEY", "").strip()
    if RECORD not in ("1", "true", "yes") or not api_key:
        pytest.fail(
            f"MAILCHIMP_RECORD={RECORD!r}: use MAILCHIMP_RECORD=sandbox, or "
            "MAILCHIMP_RECORD=1 together with MAILCHIMP_API_KEY."
        )
    # None: the client's default https://<dc>.api.mailchimp.com/3.0
    return _Target(api_key, None, domain)


class _Scrubber:
    """Rewrites recording-specific strings into stable placeholders.

    vcrpy runs ``request`` on recorded requests *and* on every request it
    tries to replay, so both sides are compared in the same canonical form.
    """

    EMAIL_LOCALS = ("upsert", "batch1", "batch2", "never")

    def __init__(self, client, target):
        parts = urlsplit(client.base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        pairs = [
            (client.base_url, CANONICAL_BASE),
            (origin, "https://" + CANONICAL_HOST),
            (parts.netloc, CANONICAL_HOST),
        ]
        if target.email_domain != EMAIL_DOMAIN:
            for local in self.EMAIL_LOCALS:
                real, fake = _email(local, target.email_domain), _email(local)
                pairs += [(real, fake), (subscriber_hash(real), subscriber_hash(fake))]
            pairs.append(("@" + target.email_domain, "@" + EMAIL_DOMAIN))
        # JSON may escape slashes; replace both spellings, longest first.
        pairs += [
            (old.replace("/", "\\/"), new.replace("/", "\\/"))
            for old, new in pairs
            if "/" in old
        ]
        self.pairs = sorted(
            {p for p in pairs if p[0] != p[1]}, key=lambda p: -len(p[0])
        )
        self.secrets = (target.api_key, basic_auth_token(AUTH_USERNAME, target.api_key))

    def text(self, value):
        if value is None:
            return None
        is_bytes = isinstance(value, bytes)
        text = (
            value.decode("utf-8", errors="surrogateescape") if is_bytes else str(value)
        )
        text = redact(text, *self.secrets)
        for old, new in self.pairs:
            text = text.replace(old, new)
        return text.encode("utf-8", errors="surrogateescape") if is_bytes else text

    def request(self, request):
        request.uri = self.text(request.uri)
        if request.body:
            request.body = self.text(request.body)
        return request

    def response(self, response):
        headers = response.get("headers") or {}
        headers.pop("Set-Cookie", None)
        headers.pop("set-cookie", None)
        for name, values in headers.items():
            headers[name] = [self.text(v) for v in values]
        body = response.get("body") or {}
        if body.get("string"):
            body["string"] = self.text(body["string"])
            for name in [h for h in headers if h.lower() == "content-length"]:
                headers[name] = [str(len(body["string"]))]
        return response


class Harness:
    """What a test gets: a client bound to the target, inside its cassette."""

    def __init__(self, target, cassette):
        self.target = target
        self.cassette = cassette
        self.client = self.make_client(target.api_key)

    def make_client(self, api_key):
        client = MailchimpClient(api_key, base_url=self.target.base_url)
        client.sleep = lambda seconds: None  # a replayed 429 must not slow the suite
        return client

    def email(self, local):
        return _email(local, self.target.email_domain)

    def audience(self):
        """The audience named Newsletter (the sandbox default), else the first one."""
        audiences = list(self.client.paginate("/lists", "lists", fields=["id", "name"]))
        assert audiences, "the account has no audience"
        named = [a for a in audiences if a["name"] == AUDIENCE_NAME]
        return (named or audiences)[0]


@pytest.fixture()
def mc(request):
    target = _target(request)
    path = CASSETTES / f"{request.node.name}.yaml"
    if RECORD:
        CASSETTES.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
    elif not path.exists():
        pytest.fail(
            f"Cassette {path.name} is missing: record it with MAILCHIMP_RECORD=sandbox "
            "(module docstring)."
        )
    probe = MailchimpClient(target.api_key, base_url=target.base_url)
    scrubber = _Scrubber(probe, target)
    probe.close()
    recorder = vcr.VCR(
        record_mode="all" if RECORD else "none",
        match_on=("method", "path", "query", "body"),
        filter_headers=["authorization"],
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )
    with recorder.use_cassette(str(path)) as cassette:
        harness = Harness(target, cassette)
        yield harness
        harness.client.close()
        if RECORD:
            assert len(cassette) > 0, "nothing was recorded"
        else:
            assert cassette.play_count > 0 and cassette.all_played, (
                "%s: %d of %d recorded exchanges were played; re-record the cassette"
                % (path.name, cassette.play_count, len(cassette))
            )


def test_ping(mc):
    assert mc.client.ping() == {"health_status": "Everything's Chimpy!"}


def test_account(mc):
    account = mc.client.account()
    assert account["account_id"]
    assert account["account_name"]
    assert isinstance(account["total_subscribers"], int)


def test_list_audiences(mc):
    audiences = list(
        mc.client.paginate(
            "/lists", "lists", fields=["id", "name", "stats.member_count"]
        )
    )
    assert AUDIENCE_NAME in [a["name"] for a in audiences]
    for audience in audiences:
        assert set(audience) == {"id", "name", "stats"}
        assert isinstance(audience["stats"]["member_count"], int)


def test_read_merge_fields(mc):
    audience = mc.audience()
    fields = list(
        mc.client.paginate(
            "/lists/{}/merge-fields".format(audience["id"]), "merge_fields"
        )
    )
    by_tag = {f["tag"]: f for f in fields}
    assert {"FNAME", "LNAME"} <= set(by_tag)
    assert by_tag["FNAME"]["type"] == "text"
    assert all(f["list_id"] == audience["id"] and f["merge_id"] for f in fields)


def test_upsert_and_read_back_member(mc):
    audience = mc.audience()
    email = mc.email("upsert")
    path = "/lists/{}/members/{}".format(audience["id"], subscriber_hash(email))
    written = mc.client.put(
        path,
        json={
            "email_address": email,
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Cassette"},
        },
    )
    assert written["id"] == subscriber_hash(email)
    assert written["email_address"].lower() == email
    member = mc.client.get(
        path, params={"fields": "id,email_address,status,merge_fields"}
    )
    assert member["id"] == written["id"]
    assert member["status"] == "subscribed"
    assert member["merge_fields"]["FNAME"] == "Cassette"


def test_missing_member_is_not_found(mc):
    audience = mc.audience()
    path = "/lists/{}/members/{}".format(
        audience["id"], subscriber_hash(mc.email("never"))
    )
    with pytest.raises(errors.MailchimpNotFoundError) as info:
        mc.client.get(path)
    error = info.value
    assert error.status == 404
    assert error.title == "Resource Not Found"
    assert error.detail
    assert error.attempts == 1


def test_bad_key_is_an_auth_error(mc):
    bad_key = "f" * 32 + "-" + mc.client.dc
    with mc.make_client(bad_key) as client:
        with pytest.raises(errors.MailchimpAuthError) as info:
            client.ping()
    error = info.value
    assert error.status == 401
    assert error.title == "API Key Invalid"
    assert error.attempts == 1
    for text in (str(error), repr(error)):
        assert bad_key not in text and "f" * 32 not in text


def test_batch_subscribe_reports_the_invalid_email(mc):
    audience = mc.audience()
    members = [
        {"email_address": mc.email("batch1"), "status": "subscribed"},
        {"email_address": "not-an-email", "status": "subscribed"},
        {"email_address": mc.email("batch2"), "status": "subscribed"},
    ]
    result = mc.client.batch_subscribe(audience["id"], members)
    accepted = sorted(
        m["email_address"].lower() for m in result.created + result.updated
    )
    assert accepted == sorted([mc.email("batch1"), mc.email("batch2")])
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error["email_address"] == "not-an-email"
    assert error["error"]
    assert error["error_code"] in ("ERROR_GENERIC", "ERROR_CONTACT_EXISTS")
    assert result.errors


def test_cassettes_hold_no_secret():
    """The recordings carry no key, no Authorization header and no recording host."""
    expected = {
        "test_ping",
        "test_account",
        "test_list_audiences",
        "test_read_merge_fields",
        "test_upsert_and_read_back_member",
        "test_missing_member_is_not_found",
        "test_bad_key_is_an_auth_error",
        "test_batch_subscribe_reports_the_invalid_email",
    }
    files = {p.stem: p.read_text(encoding="utf-8") for p in CASSETTES.glob("*.yaml")}
    assert expected <= set(files)
    forbidden = ["authorization:", "127.0.0.1", "localhost", "api.mailchimp.com"]
    keys = [
        REPLAY_KEY,
        "f" * 32 + "-us1",
        os.environ.get("MAILCHIMP_API_KEY", "").strip(),
    ]
    for key in filter(None, keys):
        forbidden += [key[:32], basic_auth_token(AUTH_USERNAME, key)]
    for name, text in files.items():
        assert "uri: https://mailchimp.invalid/3.0/" in text, name
        lowered = text.lower()
        for secret in forbidden:
            assert secret.lower() not in lowered, f"{name} contains {secret!r}"
