"""MailchimpClient behaviour against a scripted transport (no network, no sleeping).

A ``requests`` adapter mounted on the client's session plays a list of
responses or exceptions and records every request; the client's ``sleep``
and ``clock`` are replaced by a fake clock so backoff is measured, not waited.
"""

import base64
import io
import json
import logging
import tarfile
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from mailchimp_utils import mailchimp_errors as errors
from mailchimp_utils.mailchimp_client import MailchimpClient, PagePosition

KEY = "0123456789abcdef0123456789abcdef-us6"
API = "https://us6.api.mailchimp.com/3.0"
RESULTS_URL = "https://mailchimp-api-batch.s3.amazonaws.com/abc-response.tar.gz?X-Amz-Signature=sig"


def reply(status=200, body=None, headers=None, duration=0.0):
    """A scripted response: JSON for dicts/lists, raw text for str/bytes."""
    return {
        "status": status,
        "body": body,
        "headers": headers or {},
        "duration": duration,
    }


def problem(status, title, detail="", **extra):
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": f"inst-{status}",
    }
    body.update(extra)
    return reply(
        status,
        body,
        {"Content-Type": "application/problem+json", "X-Request-Id": f"req-{status}"},
    )


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedAdapter(BaseAdapter):
    """Plays scripted replies/exceptions in order and records the requests."""

    def __init__(self, script, clock):
        super().__init__()
        self.script = list(script)
        self.clock = clock
        self.requests = []
        self.timeouts = []
        self.closed = False

    def send(
        self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None
    ):
        self.requests.append(request)
        self.timeouts.append(timeout)
        assert self.script, f"unexpected request {request.method} {request.url}"
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        self.clock.now += item["duration"]
        response = requests.Response()
        response.status_code = item["status"]
        response.reason = {200: "OK", 204: "No Content", 502: "Bad Gateway"}.get(
            item["status"], "Error"
        )
        body = item["body"]
        headers = dict(item["headers"])
        if isinstance(body, dict | list):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        response._content = body or b""
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        self.closed = True

    def query(self, index):
        return {
            k: v[0]
            for k, v in parse_qs(urlsplit(self.requests[index].url).query).items()
        }

    def json_body(self, index):
        return json.loads(self.requests[index].body)


class MaxJitter:
    """Stands in for random.Random: uniform() returns the upper bound and records it."""

    def __init__(self):
        self.caps = []

    def uniform(self, low, high):
        assert low == 0
        self.caps.append(high)
        return high


@pytest.fixture()
def make_client():
    def factory(script, **kwargs):
        fake = FakeClock()
        client = MailchimpClient(kwargs.pop("api_key", KEY), **kwargs)
        client.sleep = fake.sleep
        client.clock = fake.clock
        adapter = ScriptedAdapter(script, fake)
        client.session.mount("https://", adapter)
        client.session.mount("http://", adapter)
        return client, adapter, fake

    return factory


def connection_refused():
    reason = urllib3.exceptions.NewConnectionError(
        None, "Failed to establish a new connection: refused"
    )
    return requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/3.0/ping", reason)
    )


def connection_dropped():
    reason = urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "reset")
    )
    return requests.ConnectionError(reason)


# -- construction -------------------------------------------------------------


def test_default_base_url_uses_the_key_data_center(make_client):
    client, adapter, _ = make_client(
        [reply(200, {"health_status": "Everything's Chimpy!"})]
    )
    assert client.base_url == API
    assert client.ping() == {"health_status": "Everything's Chimpy!"}
    request = adapter.requests[0]
    assert (request.method, request.url) == ("GET", API + "/ping")


def test_dc_placeholder_in_a_custom_base_url(make_client):
    client, adapter, _ = make_client(
        [reply(200, {"account_id": "a1"})], base_url="http://localhost:8090/{dc}/3.0/"
    )
    assert client.base_url == "http://localhost:8090/us6/3.0"
    assert client.account() == {"account_id": "a1"}
    assert adapter.requests[0].url == "http://localhost:8090/us6/3.0/"


@pytest.mark.parametrize(
    "base_url",
    ["localhost:8090/3.0", "ftp://x/3.0", "https:///3.0", "https://x/3.0?a=1"],
)
def test_bad_base_url_is_a_config_error(base_url):
    with pytest.raises(errors.MailchimpConfigError) as info:
        MailchimpClient(KEY, base_url=base_url)
    assert "not a valid http(s) URL" in str(info.value)


def test_malformed_key_fails_before_any_request(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a request was sent")

    monkeypatch.setattr(requests.Session, "request", no_network)
    with pytest.raises(errors.MailchimpConfigError) as info:
        MailchimpClient("0123456789abcdef0123456789abcdef")
    assert "data-center suffix" in str(info.value)


def test_every_call_sends_basic_auth_timeout_and_user_agent(make_client):
    client, adapter, _ = make_client([reply(200, {}), reply(204)], timeout=(3, 45))
    client.get("/lists")
    assert client.delete("/lists/L1/members/h") is None
    expected_auth = "Basic " + base64.b64encode(("anystring:" + KEY).encode()).decode()
    for request in adapter.requests:
        assert request.headers["Authorization"] == expected_auth
        assert request.headers["User-Agent"] == "odoo-mailchimp-connector/18.0"
    assert adapter.timeouts == [(3, 45), (3, 45)]


def test_json_body_and_query_booleans(make_client):
    client, adapter, _ = make_client([reply(200, {"id": "h"})])
    client.put(
        "/lists/L1/members/h",
        json={"email_address": "a@example.com", "status_if_new": "subscribed"},
        params={"skip_merge_validation": True, "unused": None},
    )
    assert adapter.requests[0].headers["Content-Type"] == "application/json"
    assert adapter.json_body(0) == {
        "email_address": "a@example.com",
        "status_if_new": "subscribed",
    }
    assert adapter.query(0) == {"skip_merge_validation": "true"}


def test_pool_is_capped_at_ten_blocking_connections():
    for asked, expected in ((50, 10), (10, 10), (3, 3)):
        client = MailchimpClient(KEY, max_connections=asked)
        assert client.max_connections == expected
        for scheme in ("https://", "http://"):
            adapter = client.session.get_adapter(scheme + "us6.api.mailchimp.com/3.0/")
            assert adapter.poolmanager.connection_pool_kw["maxsize"] == expected
            assert adapter.poolmanager.connection_pool_kw["block"] is True
            assert adapter.max_retries.total == 0  # retries are ours, not urllib3's
        client.close()
    with pytest.raises(errors.MailchimpConfigError):
        MailchimpClient(KEY, max_connections=0)


def test_context_manager_closes_only_its_own_session(make_client):
    client, adapter, _ = make_client([])
    with client as entered:
        assert entered is client
    assert adapter.closed
    session = requests.Session()
    fake = ScriptedAdapter([], FakeClock())
    session.mount("https://", fake)
    with MailchimpClient(KEY, session=session) as shared:
        assert shared.session is session
    assert not fake.closed


def test_absolute_urls_only_on_the_api_host(make_client):
    client, adapter, _ = make_client([reply(200, {"id": "L1"})])
    assert client.get(API + "/lists/L1") == {"id": "L1"}
    with pytest.raises(ValueError):
        client.get("https://evil.example.com/3.0/lists")
    assert len(adapter.requests) == 1


# -- retries ------------------------------------------------------------------


def test_429_twice_then_200_backs_off_exponentially_with_full_jitter(make_client):
    client, adapter, fake = make_client(
        [reply(429), reply(429), reply(200, {"ok": True})]
    )
    client.random = jitter = MaxJitter()
    assert client.get("/lists") == {"ok": True}
    assert len(adapter.requests) == 3
    assert jitter.caps == [0.5, 1.0]
    assert fake.sleeps == [0.5, 1.0]


def test_backoff_cap_is_bounded_by_backoff_max(make_client):
    client, _, fake = make_client([reply(500)] * 5 + [reply(200, {})], backoff_max=1.5)
    client.random = jitter = MaxJitter()
    client.get("/lists")
    assert jitter.caps == [0.5, 1.0, 1.5, 1.5, 1.5]


def test_jitter_stays_within_the_cap(make_client):
    client, _, fake = make_client([reply(503)] * 5 + [reply(200, {})])
    client.get("/ping")
    caps = [0.5, 1.0, 2.0, 4.0, 8.0]
    assert len(fake.sleeps) == 5
    assert all(0 <= slept <= cap for slept, cap in zip(fake.sleeps, caps, strict=True))


def test_503_then_200(make_client):
    client, adapter, fake = make_client(
        [problem(503, "Service Unavailable"), reply(200, {"a": 1})]
    )
    assert client.get("/") == {"a": 1}
    assert len(adapter.requests) == 2
    assert len(fake.sleeps) == 1


def test_retry_after_is_honoured(make_client):
    client, adapter, fake = make_client(
        [reply(429, headers={"Retry-After": "7"}), reply(200, {})]
    )
    client.get("/lists")
    assert fake.sleeps == [7.0]
    assert len(adapter.requests) == 2


def test_retry_after_beyond_the_budget_gives_up_at_once(make_client):
    client, adapter, fake = make_client(
        [problem(429, "Too Many Requests", headers=None)]
    )
    adapter.script[0]["headers"]["Retry-After"] = "120"
    with pytest.raises(errors.MailchimpRateLimitError) as info:
        client.get("/lists")
    assert fake.sleeps == []
    assert info.value.retry_after == 120.0
    assert info.value.attempts == 1


def test_bare_403_is_retried_but_403_with_a_body_is_not(make_client):
    client, adapter, fake = make_client(
        [reply(403), reply(403, b"  "), reply(200, {"ok": 1})]
    )
    assert client.get("/ping") == {"ok": 1}
    assert len(adapter.requests) == 3
    client, adapter, fake = make_client(
        [problem(403, "API Key Invalid", "Your API key may be invalid")]
    )
    with pytest.raises(errors.MailchimpAuthError):
        client.get("/ping")
    assert len(adapter.requests) == 1
    assert fake.sleeps == []


def test_bare_403_exhausted_is_a_rate_limit_error(make_client):
    client, adapter, _ = make_client([reply(403)] * 3, max_retries=2)
    with pytest.raises(errors.MailchimpRateLimitError) as info:
        client.get("/ping")
    assert info.value.status == 403
    assert len(adapter.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 404, 405, 422])
def test_other_4xx_are_never_retried(make_client, status):
    client, adapter, fake = make_client(
        [problem(status, "Nope", "no")] + [reply(200, {})] * 3
    )
    with pytest.raises(errors.MailchimpError) as info:
        client.get("/lists/L1")
    assert info.value.status == status
    assert len(adapter.requests) == 1
    assert fake.sleeps == []


def test_429_exhausted_raises_rate_limit_error(make_client):
    client, adapter, fake = make_client(
        [problem(429, "Too Many Requests", "slow down")] * 4, max_retries=3
    )
    with pytest.raises(errors.MailchimpRateLimitError) as info:
        client.get("/lists")
    error = info.value
    assert (error.status, error.title, error.detail, error.attempts) == (
        429,
        "Too Many Requests",
        "slow down",
        4,
    )
    assert len(adapter.requests) == 4
    assert len(fake.sleeps) == 3


def test_5xx_exhausted_raises_server_error(make_client):
    client, adapter, _ = make_client(
        [problem(500, "Internal Server Error", "boom")] * 6, max_retries=5
    )
    with pytest.raises(errors.MailchimpServerError) as info:
        client.get("/lists")
    assert info.value.attempts == 6  # first try + max_retries=5
    assert info.value.instance == "inst-500"
    assert len(adapter.requests) == 6


def test_a_429_storm_is_ridden_out_within_the_time_budget_whatever_the_attempt_count(
    make_client,
):
    """20 throttled answers in a row, each asking for 1 s, fit the default 60 s: the
    call succeeds instead of giving up after a fixed number of attempts."""
    client, adapter, fake = make_client(
        [reply(429, headers={"Retry-After": "1"})] * 20 + [reply(200, {"ok": 1})]
    )
    assert client.get("/lists/L1/members") == {"ok": 1}
    assert len(adapter.requests) == 21
    assert fake.sleeps == [1.0] * 20


def test_network_errors_are_retried_for_the_whole_budget(make_client):
    client, adapter, fake = make_client(
        [connection_refused()] * 30 + [reply(200, {"ok": 1})], backoff_max=1
    )
    client.random = MaxJitter()
    assert client.get("/ping") == {"ok": 1}
    assert len(adapter.requests) == 31
    assert sum(fake.sleeps) <= 60


def test_backoff_retries_use_the_whole_time_budget(make_client):
    """Full jitter as before; the last wait is shortened to what is left of the budget,
    so a call keeps trying for max_retry_seconds (default 60) and not a second more."""
    client, adapter, fake = make_client([reply(500)] * 100)
    client.random = MaxJitter()
    with pytest.raises(errors.MailchimpServerError) as info:
        client.get("/lists")
    # 0.5 + 1 + 2 + 4 + 8 + 16 = 31.5; the next wait (30) is cut to the 28.5 s left
    assert fake.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 28.5]
    assert fake.now - 1000.0 == 60.0
    assert info.value.attempts == 8
    assert len(adapter.requests) == 8


def test_an_attempt_cap_still_stops_retries_when_one_is_given(make_client):
    client, adapter, fake = make_client([reply(429)] * 5, max_retries=0)
    with pytest.raises(errors.MailchimpRateLimitError):
        client.get("/lists/L1/members/abc")
    assert len(adapter.requests) == 1
    assert fake.sleeps == []


def test_total_retry_time_is_bounded(make_client):
    # Each request takes 2 s and Mailchimp asks for
    # 3 s: 2+3=5, 7+3=10, then 12+3 > 12 -> stop.
    script = [reply(429, headers={"Retry-After": "3"}, duration=2)] * 10
    client, adapter, fake = make_client(script, max_retries=50, max_retry_seconds=12)
    with pytest.raises(errors.MailchimpRateLimitError):
        client.get("/lists")
    assert len(adapter.requests) == 3
    assert fake.sleeps == [3.0, 3.0]
    assert fake.now - 1000.0 == 12.0


def test_total_retry_time_bound_with_jitter(make_client):
    client, adapter, fake = make_client(
        [reply(500)] * 100, max_retries=100, max_retry_seconds=20
    )
    client.random = MaxJitter()
    with pytest.raises(errors.MailchimpServerError):
        client.get("/lists")
    # 0.5 + 1 + 2 + 4 + 8 = 15.5; the next wait (16) is cut to the 4.5 s left of 20 s.
    assert fake.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 4.5]
    assert sum(fake.sleeps) == 20


# -- network failures ---------------------------------------------------------


def test_connect_timeouts_exhausted_raise_timeout_error(make_client):
    client, adapter, fake = make_client(
        [requests.ConnectTimeout("connect timed out")] * 3, max_retries=2
    )
    with pytest.raises(errors.MailchimpTimeoutError) as info:
        # never sent, so safe to retry even a POST
        client.post("/batches", json={"operations": []})
    assert isinstance(info.value, errors.MailchimpNetworkError)
    assert info.value.attempts == 3
    assert "ConnectTimeout" in info.value.detail
    assert len(adapter.requests) == 3


def test_read_timeout_on_get_is_retried(make_client):
    client, adapter, _ = make_client(
        [requests.ReadTimeout("read timed out"), reply(200, {"ok": 1})]
    )
    assert client.get("/lists") == {"ok": 1}
    assert len(adapter.requests) == 2


def test_read_timeout_on_post_is_not_resent(make_client):
    client, adapter, fake = make_client(
        [requests.ReadTimeout("read timed out"), reply(200, {"id": "b1"})]
    )
    with pytest.raises(errors.MailchimpTimeoutError) as info:
        client.post("/batches", json={"operations": [{"method": "GET", "path": "/"}]})
    assert len(adapter.requests) == 1
    assert "not sent again" in info.value.detail
    assert fake.sleeps == []


def test_connection_refused_is_retried_then_network_error(make_client):
    client, adapter, _ = make_client([connection_refused()] * 3, max_retries=2)
    with pytest.raises(errors.MailchimpNetworkError) as info:
        client.post("/lists/L1", json={"members": []})
    assert not isinstance(info.value, errors.MailchimpTimeoutError)
    assert len(adapter.requests) == 3
    assert info.value.detail.startswith("ConnectionError: ")
    # the detail is ours, not an answer from Mailchimp
    assert info.value.status is None


def test_a_connection_check_sends_once_after_a_network_error(make_client):
    """Connect (retry_network_errors=False): a host that cannot be reached, or that
    does not answer in time, is said after one attempt, without waiting."""
    for failure, error_class in (
        (connection_refused(), errors.MailchimpNetworkError),
        (requests.ConnectTimeout("connect timed out"), errors.MailchimpTimeoutError),
        (requests.ReadTimeout("read timed out"), errors.MailchimpTimeoutError),
    ):
        client, adapter, fake = make_client(
            [failure] * 5, retry_network_errors=False, timeout=(5, 60)
        )
        with pytest.raises(error_class):
            client.get("/ping")
        assert len(adapter.requests) == 1
        assert adapter.timeouts == [(5, 60)]
        assert fake.sleeps == []
    # an answer that says "later" is still retried
    client, adapter, _ = make_client(
        [reply(503), reply(200, {"health_status": "ok"})], retry_network_errors=False
    )
    assert client.get("/ping") == {"health_status": "ok"}
    assert len(adapter.requests) == 2
    # by default a network error is retried
    client, adapter, _ = make_client(
        [connection_refused(), reply(200, {"health_status": "ok"})]
    )
    assert client.get("/ping") == {"health_status": "ok"}
    assert len(adapter.requests) == 2


def test_dropped_connection_is_retried_for_get_not_for_post(make_client):
    client, adapter, _ = make_client([connection_dropped(), reply(200, {"ok": 1})])
    assert client.get("/ping") == {"ok": 1}
    client, adapter, _ = make_client([connection_dropped(), reply(200, {"ok": 1})])
    with pytest.raises(errors.MailchimpNetworkError):
        client.post("/lists/L1/webhooks", json={"url": "https://x"})
    assert len(adapter.requests) == 1


def test_ssl_error_is_a_network_error(make_client):
    client, adapter, _ = make_client(
        [requests.exceptions.SSLError("certificate verify failed")] * 2, max_retries=1
    )
    with pytest.raises(errors.MailchimpNetworkError) as info:
        client.get("/ping")
    assert "certificate verify failed" in info.value.detail
    assert len(adapter.requests) == 2


def test_unretryable_request_exception_is_raised_once(make_client):
    client, adapter, _ = make_client([requests.TooManyRedirects("loop")] * 3)
    with pytest.raises(errors.MailchimpError) as info:
        client.get("/ping")
    assert type(info.value) is errors.MailchimpError
    assert len(adapter.requests) == 1


# -- problem+json mapping -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "title", "expected"),
    [
        (401, "API Key Invalid", errors.MailchimpAuthError),
        (403, "Forbidden", errors.MailchimpAuthError),
        (403, "User Disabled", errors.MailchimpAuthError),
        (403, "Wrong Datacenter", errors.MailchimpWrongDatacenterError),
        (404, "Resource Not Found", errors.MailchimpNotFoundError),
        (400, "Member In Compliance State", errors.MailchimpComplianceError),
        (400, "Forgotten Email Not Subscribed", errors.MailchimpComplianceError),
        (400, "Member Exists", errors.MailchimpBadRequestError),
        (400, "Bad Request", errors.MailchimpBadRequestError),
        (405, "Method Not Allowed", errors.MailchimpBadRequestError),
    ],
)
def test_problem_json_maps_to_typed_exception(make_client, status, title, expected):
    client, _, _ = make_client([problem(status, title, f"Details for {title}.")])
    with pytest.raises(expected) as info:
        client.put("/lists/L1/members/h", json={"email_address": "a@example.com"})
    error = info.value
    assert type(error) is expected
    assert (error.status, error.title, error.detail) == (
        status,
        title,
        f"Details for {title}.",
    )
    assert error.instance == f"inst-{status}"
    assert error.request_id == f"req-{status}"
    assert error.error_type == "https://mailchimp.com/developer/marketing/docs/errors/"
    assert (error.method, error.path) == ("PUT", "/3.0/lists/L1/members/h")


def test_invalid_resource_carries_field_errors(make_client):
    client, _, _ = make_client(
        [
            problem(
                400,
                "Invalid Resource",
                "Your merge fields were invalid.",
                errors=[
                    {"field": "FNAME", "message": "Please enter a value"},
                    {"field": "email_address", "message": "looks fake or invalid"},
                ],
            )
        ]
    )
    with pytest.raises(errors.MailchimpInvalidResourceError) as info:
        client.put("/lists/L1/members/h", json={})
    assert info.value.errors == [
        {"field": "FNAME", "message": "Please enter a value"},
        {"field": "email_address", "message": "looks fake or invalid"},
    ]
    assert "FNAME: Please enter a value; email_address: looks fake or invalid" in str(
        info.value
    )


def test_html_502_is_a_server_error_with_a_readable_detail(make_client):
    html = (
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
        "Gateway</h1></center></body></html>"
    )
    client, adapter, _ = make_client(
        [reply(502, html, {"Content-Type": "text/html"})] * 3, max_retries=2
    )
    with pytest.raises(errors.MailchimpServerError) as info:
        client.get("/lists/L1/members", params={"count": 1000})
    error = info.value
    assert error.status == 502
    assert error.title == "Bad Gateway"
    assert (
        error.detail
        == "Mailchimp answered with a text/html page instead of JSON: 502 Bad Gateway"
    )
    assert "<" not in str(error)
    assert len(adapter.requests) == 3


def test_502_on_post_is_not_resent(make_client):
    client, adapter, _ = make_client(
        [reply(502, "<html>bad gateway</html>"), reply(200, {"id": "b"})]
    )
    with pytest.raises(errors.MailchimpServerError):
        client.post("/batches", json={"operations": []})
    assert len(adapter.requests) == 1


def test_non_json_success_body_raises(make_client):
    client, _, _ = make_client([reply(200, "<html>maintenance</html>")])
    with pytest.raises(errors.MailchimpError) as info:
        client.get("/ping")
    assert "not JSON" in str(info.value)


def test_unexpected_status_raises(make_client):
    client, _, _ = make_client([reply(200, {"id": "x"})])
    with pytest.raises(errors.MailchimpError) as info:
        client.post("/lists/L1/members/h/tags", json={"tags": []}, expected=(204,))
    assert info.value.status == 200


# -- secrets --------------------------------------------------------------------


def _secret_forms():
    return (KEY, KEY[:32], base64.b64encode(("anystring:" + KEY).encode()).decode())


def test_key_never_in_exception_text_even_if_echoed(make_client):
    client, _, _ = make_client(
        [
            problem(
                401,
                "API Key Invalid",
                f"Key {KEY} is invalid",
                errors=[{"field": "apikey", "message": f"bad {KEY[:32]}"}],
            )
        ]
    )
    with pytest.raises(errors.MailchimpAuthError) as info:
        client.get("/ping")
    error = info.value
    texts = [
        str(error),
        repr(error),
        error.detail,
        json.dumps(error.errors),
    ]
    for text in texts:
        for secret in _secret_forms():
            assert secret not in text
    assert "Key *** is invalid" in error.detail
    assert KEY not in repr(client)


def test_key_never_in_network_error_text(make_client):
    client, _, _ = make_client(
        [requests.ConnectionError(f"proxy said {KEY}")] * 6, max_retries=5
    )
    with pytest.raises(errors.MailchimpNetworkError) as info:
        client.get("/ping")
    for secret in _secret_forms():
        assert secret not in str(info.value)
        assert secret not in repr(info.value)


def test_logs_say_what_happened_and_never_the_key(make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client, _, _ = make_client(
        [
            reply(429),
            problem(503, "Service Unavailable", "x"),
            reply(200, {}),
            problem(404, "Resource Not Found"),
        ]
    )
    client.get("/lists", params={"count": 10})
    with pytest.raises(errors.MailchimpNotFoundError):
        client.get("/lists/missing")
    logger = "mailchimp_utils.mailchimp_client"
    messages = [r.getMessage() for r in caplog.records if r.name == logger]
    assert any(
        "GET /3.0/lists -> 429; retry 1 in " in m and "s of 60s spent)" in m
        for m in messages
    )
    assert any("GET /3.0/lists -> 503; retry 2 in " in m for m in messages)
    assert any(
        m.startswith("Mailchimp GET /3.0/lists -> 200 in ") and "(attempt 3)" in m
        for m in messages
    )
    assert any(
        "GET /3.0/lists/missing failed: HTTP 404 Resource Not Found" in m
        for m in messages
    )
    levels = {r.levelname for r in caplog.records if r.name == logger}
    assert levels == {"DEBUG", "INFO", "WARNING"}
    assert all(r.args for r in caplog.records if r.name == logger)  # lazy %s formatting
    for secret in _secret_forms():
        assert secret not in caplog.text
    assert "Authorization" not in caplog.text


# -- paging -------------------------------------------------------------------


def _page(start, size, total, key="members"):
    return reply(
        200,
        {
            key: [{"id": "m%d" % i} for i in range(start, start + size)],
            "total_items": total,
        },
    )


def test_paginate_walks_offsets_until_total_items(make_client):
    client, adapter, _ = make_client(
        [_page(0, 1000, 2500), _page(1000, 1000, 2500), _page(2000, 500, 2500)]
    )
    items = list(
        client.paginate("/lists/L1/members", "members", params={"status": "subscribed"})
    )
    assert [item["id"] for item in items] == ["m%d" % i for i in range(2500)]
    assert [adapter.query(i) for i in range(3)] == [
        {"status": "subscribed", "count": "1000", "offset": str(offset)}
        for offset in (0, 1000, 2000)
    ]


def test_paginate_stops_when_offset_reaches_total_without_extra_call(make_client):
    client, adapter, _ = make_client([_page(0, 2, 4, "lists"), _page(2, 2, 4, "lists")])
    assert len(list(client.paginate("/lists", "lists", count=2))) == 4
    assert len(adapter.requests) == 2


def test_paginate_stops_on_a_short_page(make_client):
    # total_items says more, but the page came
    # back short (the set shrank during the walk).
    client, adapter, _ = make_client(
        [_page(0, 3, 10, "lists"), _page(3, 1, 10, "lists")]
    )
    assert len(list(client.paginate("/lists", "lists", count=3))) == 4
    assert len(adapter.requests) == 2


def test_paginate_stops_on_an_empty_first_page(make_client):
    client, adapter, _ = make_client([reply(200, {"members": [], "total_items": 0})])
    assert list(client.paginate("/lists/L1/members", "members")) == []
    assert len(adapter.requests) == 1


def test_paginate_expands_fields_and_keeps_total_items(make_client):
    client, adapter, _ = make_client([_page(0, 1, 1)])
    list(
        client.paginate(
            "/lists/L1/members",
            "members",
            fields=["id", "email_address", "merge_fields.FNAME"],
            exclude_fields=["members._links", "total_items"],
            count=5000,
            params={"offset": 0},
        )
    )
    query = adapter.query(0)
    assert (
        query["fields"]
        == "members.id,members.email_address,members.merge_fields.FNAME,total_items"
    )
    assert query["exclude_fields"] == "members._links"
    assert query["count"] == "1000"  # capped at Mailchimp's maximum


def test_paginate_starts_at_a_given_offset(make_client):
    client, adapter, _ = make_client([_page(5, 2, 7, "lists")])
    assert (
        len(list(client.paginate("/lists", "lists", params={"offset": 5}, count=10)))
        == 2
    )
    assert adapter.query(0)["offset"] == "5"


def test_pages_ahead_reads_from_an_offset_and_prepares_each_page(make_client):
    client, adapter, _ = make_client(
        [_page(2, 2, 5, "sent_to"), _page(4, 1, 5, "sent_to")]
    )
    pages = list(
        client.pages_ahead(
            "/reports/c1/sent-to",
            "sent_to",
            lambda items: [item["id"] for item in items],
            params={"fields": "sent_to.email_id,total_items"},
            offset=2,
            count=2,
        )
    )
    assert pages == [
        (PagePosition(2, 2, 2, 5), ["m2", "m3"]),
        (PagePosition(4, 2, 1, 5), ["m4"]),
    ]
    assert [(position.end, position.last) for position, _ids in pages] == [
        (4, False),
        (5, True),
    ]
    assert [adapter.query(i) for i in range(2)] == [
        {"fields": "sent_to.email_id,total_items", "count": "2", "offset": offset}
        for offset in ("2", "4")
    ]


def test_pages_ahead_reads_on_when_the_listing_grew(make_client):
    # the second client plans its page from the first page's total (4); that page
    # announces 6, so the walk goes on from where it got to
    client, adapter, _ = make_client(
        [_page(0, 2, 4, "emails"), _page(2, 2, 6, "emails"), _page(4, 2, 6, "emails")]
    )
    other = MailchimpClient(KEY)
    other.session.mount("https://", adapter)
    positions = [
        position
        for position, _size in client.pages_ahead(
            "/reports/c1/email-activity",
            "emails",
            len,
            count=2,
            clients=[client, other],
        )
    ]
    assert [(p.offset, p.end, p.last) for p in positions] == [
        (0, 2, False),
        (2, 4, False),
        (4, 6, True),
    ]
    assert [adapter.query(i)["offset"] for i in range(3)] == ["0", "2", "4"]


def test_pages_ahead_ends_on_a_page_without_total_items(make_client):
    client, adapter, _ = make_client([reply(200, {"emails": [{"id": 1}, {"id": 2}]})])
    pages = list(
        client.pages_ahead("/reports/c1/email-activity", "emails", len, count=2)
    )
    assert pages == [(PagePosition(0, 2, 2, 0), 2)]
    assert pages[0][0].last
    assert len(adapter.requests) == 1


# -- batch subscribe ----------------------------------------------------------


def _batch_reply(request_members, bad=()):
    return reply(
        200,
        {
            "new_members": [
                m for m in request_members if m["email_address"] not in bad
            ],
            "updated_members": [],
            "errors": [
                {
                    "email_address": email,
                    "error": f"{email} looks fake or invalid",
                    "error_code": "ERROR_GENERIC",
                    "field": "email_address",
                    "field_message": "invalid",
                }
                for email in bad
            ],
            "total_created": len(request_members) - len(bad),
            "total_updated": 0,
            "error_count": len(bad),
        },
    )


def test_batch_subscribe_chunks_at_500_and_surfaces_member_errors(make_client):
    members = [
        {"email_address": "p%04d@example.com" % i, "status": "subscribed"}
        for i in range(1201)
    ]
    bad = "p0700@example.com"
    script = [
        _batch_reply(members[:500]),
        _batch_reply(members[500:1000], bad=[bad]),
        _batch_reply(members[1000:]),
    ]
    client, adapter, _ = make_client(script)
    result = client.batch_subscribe("L1", members, skip_merge_validation=True)
    bodies = [adapter.json_body(i) for i in range(3)]
    assert [len(body["members"]) for body in bodies] == [500, 500, 201]
    assert all(body["update_existing"] is True for body in bodies)
    assert [r.url.split("?")[0] for r in adapter.requests] == [API + "/lists/L1"] * 3
    assert adapter.query(0) == {"skip_merge_validation": "true"}
    assert len(result.created) == 1200
    assert result.errors == [
        {
            "email_address": bad,
            "error": bad + " looks fake or invalid",
            "error_code": "ERROR_GENERIC",
            "field": "email_address",
            "field_message": "invalid",
        }
    ]
    assert result.errors


def test_batch_subscribe_upserts_are_retried_creates_are_not(make_client):
    members = [{"email_address": "a@example.com", "status": "subscribed"}]
    client, adapter, _ = make_client(
        [requests.ReadTimeout("slow"), _batch_reply(members)]
    )
    assert len(client.batch_subscribe("L1", members).created) == 1
    assert len(adapter.requests) == 2
    client, adapter, _ = make_client(
        [requests.ReadTimeout("slow"), _batch_reply(members)]
    )
    with pytest.raises(errors.MailchimpTimeoutError):
        client.batch_subscribe("L1", members, update_existing=False)
    assert len(adapter.requests) == 1
    assert adapter.json_body(0)["update_existing"] is False
    assert "skip_merge_validation" not in adapter.query(0)


def test_batch_subscribe_failure_keeps_the_partial_result(make_client):
    members = [
        {"email_address": "p%04d@example.com" % i, "status": "subscribed"}
        for i in range(600)
    ]
    client, _, _ = make_client(
        [_batch_reply(members[:500]), problem(400, "Invalid Resource", "bad body")]
    )
    with pytest.raises(errors.MailchimpInvalidResourceError) as info:
        client.batch_subscribe("L1", members)
    assert len(info.value.partial_result.created) == 500


# -- /batches -------------------------------------------------------------------


def test_submit_batch_encodes_bodies_and_returns_the_id(make_client):
    client, adapter, _ = make_client([reply(200, {"id": "b123", "status": "pending"})])
    batch_id = client.submit_batch(
        [
            {
                "method": "put",
                "path": "/lists/L1/members/h1",
                "body": {"email_address": "a@example.com"},
                "operation_id": "partner-1",
            },
            {"method": "GET", "path": "/lists/L1/members", "params": {"count": 10}},
        ]
    )
    assert batch_id == "b123"
    assert adapter.requests[0].url == API + "/batches"
    assert adapter.json_body(0) == {
        "operations": [
            {
                "method": "PUT",
                "path": "/lists/L1/members/h1",
                "body": '{"email_address": "a@example.com"}',
                "operation_id": "partner-1",
            },
            {"method": "GET", "path": "/lists/L1/members", "params": {"count": 10}},
        ]
    }
    with pytest.raises(ValueError):
        client.submit_batch([])


def test_wait_for_batch_polls_until_finished(make_client):
    states = [{"id": "b1", "status": s} for s in ("pending", "started", "finished")]
    client, adapter, fake = make_client([reply(200, s) for s in states])
    assert client.wait_for_batch("b1", poll_interval=5)["status"] == "finished"
    assert fake.sleeps == [5, 5]
    assert [r.url for r in adapter.requests] == [API + "/batches/b1"] * 3


def test_wait_for_batch_backs_off_up_to_the_longest_interval(make_client):
    states = [{"id": "b1", "status": "started"}] * 5 + [
        {"id": "b1", "status": "finished"}
    ]
    client, adapter, fake = make_client([reply(200, s) for s in states])
    batch = client.wait_for_batch(
        "b1", poll_interval=0.5, timeout=60, max_poll_interval=3
    )
    assert batch["status"] == "finished"
    assert fake.sleeps == [0.5, 1, 2, 3, 3]
    assert len(adapter.requests) == 6


def test_wait_for_batch_times_out(make_client):
    state = {
        "id": "b1",
        "status": "started",
        "finished_operations": 3,
        "total_operations": 10,
    }
    client, adapter, fake = make_client([reply(200, state)] * 10)
    with pytest.raises(errors.MailchimpTimeoutError) as info:
        client.wait_for_batch("b1", poll_interval=2, timeout=5)
    assert fake.sleeps == [2, 2]
    assert len(adapter.requests) == 3
    assert info.value.batch == state
    assert "still started after 5s (3 of 10 operations finished)" in str(info.value)


def _results_tarball():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = json.dumps(
            [
                {
                    "status_code": 200,
                    "operation_id": "partner-1",
                    "response": json.dumps({"id": "h1"}),
                },
                {
                    "status_code": 400,
                    "operation_id": "partner-2",
                    "response": json.dumps(
                        {"title": "Member In Compliance State", "status": 400}
                    ),
                },
            ]
        ).encode()
        info = tarfile.TarInfo("b1/0.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_batch_results_downloads_without_credentials(make_client):
    batch = {"id": "b1", "status": "finished", "response_body_url": RESULTS_URL}
    client, adapter, _ = make_client(
        [reply(200, _results_tarball(), {"Content-Type": "application/x-gzip"})]
    )
    results = client.batch_results(batch)
    assert results == [
        {"status_code": 200, "operation_id": "partner-1", "response": {"id": "h1"}},
        {
            "status_code": 400,
            "operation_id": "partner-2",
            "response": {"title": "Member In Compliance State", "status": 400},
        },
    ]
    download = adapter.requests[0]
    assert download.url == RESULTS_URL
    assert "Authorization" not in download.headers
    for value in download.headers.values():
        for secret in _secret_forms():
            assert secret not in value
    assert adapter.timeouts == [(5, 120)]


def test_batch_results_by_id_reads_the_batch_first_and_retries_the_download(
    make_client,
):
    batch = {"id": "b1", "status": "finished", "response_body_url": RESULTS_URL}
    client, adapter, _ = make_client(
        [
            reply(200, batch),
            reply(503, "<Error>SlowDown</Error>"),
            reply(200, _results_tarball()),
        ]
    )
    assert len(client.batch_results("b1")) == 2
    assert [r.url for r in adapter.requests] == [
        API + "/batches/b1",
        RESULTS_URL,
        RESULTS_URL,
    ]
    assert "Authorization" in adapter.requests[0].headers
    assert "Authorization" not in adapter.requests[2].headers


def test_batch_results_errors(make_client):
    client, adapter, _ = make_client([reply(403, "<Error>Request has expired</Error>")])
    with pytest.raises(errors.MailchimpError) as info:
        client.batch_results(
            {"id": "b1", "status": "finished", "response_body_url": RESULTS_URL}
        )
    assert info.value.status == 403
    assert "link may have expired" in str(info.value)
    assert not isinstance(info.value, errors.MailchimpAuthError)
    assert RESULTS_URL not in str(info.value)
    with pytest.raises(errors.MailchimpError, match="no results to download yet"):
        client.batch_results({"id": "b2", "status": "started", "response_body_url": ""})
    assert len(adapter.requests) == 1


def test_batch_results_network_error_hides_the_signed_link(make_client):
    failure = requests.ConnectionError(
        "Max retries exceeded with url: "
        f"/abc-response.tar.gz?{urlsplit(RESULTS_URL).query}"
    )
    client, adapter, _ = make_client([failure] * 3, max_retries=2)
    with pytest.raises(errors.MailchimpNetworkError) as info:
        client.batch_results(
            {"id": "b1", "status": "finished", "response_body_url": RESULTS_URL}
        )
    assert len(adapter.requests) == 3
    assert "X-Amz-Signature" not in str(info.value)
    assert "/abc-response.tar.gz?..." in info.value.detail
