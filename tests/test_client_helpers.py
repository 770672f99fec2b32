"""Pure helpers of the Mailchimp client: keys, hashes, error taxonomy, bulk payloads."""

import hashlib
import io
import json
import tarfile

import pytest

from mailchimp_utils import mailchimp_errors as errors
from mailchimp_utils.mailchimp_batches import (
    BatchSubscribeResult,
    batch_operation,
    chunked,
    parse_batch_results,
)
from mailchimp_utils.mailchimp_keys import parse_api_key, redact, subscriber_hash

KEY = "0123456789abcdef0123456789abcdef-us6"


# -- keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "dc"),
    [
        (KEY, "us6"),
        (f"  {KEY}\n", "us6"),
        ("ABCDEF0123456789abcdef0123456789-us21", "us21"),
    ],
)
def test_parse_api_key_returns_the_data_center(key, dc):
    assert parse_api_key(key) == dc


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "No Mailchimp API key"),
        (None, "No Mailchimp API key"),
        ("   ", "No Mailchimp API key"),
        ("0123456789abcdef0123456789abcdef", "no data-center suffix"),
        ("0123456789abcdef0123456789abcdef-", "not a data center"),
        ("0123456789abcdef0123456789abcdef-US6", "not a data center"),
        ("0123456789abcdef0123456789abcde-us6", "32 hexadecimal characters (it has 31"),
        (
            "0123456789abcdef0123456789abcdeg-us6",
            "32 hexadecimal characters (it has 32",
        ),
        ("0123456789abcdef 0123456789abcdef-us6", "32 hexadecimal characters"),
    ],
)
def test_malformed_keys_raise_a_config_error_that_hides_the_key(key, reason):
    with pytest.raises(errors.MailchimpConfigError) as info:
        parse_api_key(key)
    error = info.value
    assert reason in str(error)
    assert error.status is None
    if key and key.strip():
        secret = key.strip().rpartition("-")[0] or key.strip()
        for text in (str(error), repr(error)):
            assert secret not in text


def test_redact_hides_the_key_and_its_hex_part():
    text = f"key={KEY} hex={KEY[:32]} other=keep"
    assert redact(text, KEY) == "key=*** hex=*** other=keep"
    assert redact(text, None, "") == text
    assert redact(None, KEY) is None


def test_subscriber_hash_is_md5_of_trimmed_lowercase_email():
    expected = hashlib.md5(b"urist.mcvankab@freddiesjokes.com").hexdigest()
    assert subscriber_hash("urist.mcvankab@freddiesjokes.com") == expected
    assert subscriber_hash("  Urist.McVankab@FreddiesJokes.com \n") == expected
    assert expected == "62eeb292278cc15f5817cb78f7790b08"
    with pytest.raises(ValueError):
        subscriber_hash("  ")


# -- error taxonomy -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "title", "error_type", "empty", "expected"),
    [
        (401, "API Key Invalid", None, False, errors.MailchimpAuthError),
        (401, "API Key Missing", None, False, errors.MailchimpAuthError),
        (403, "Forbidden", None, False, errors.MailchimpAuthError),
        (403, "User Disabled", None, False, errors.MailchimpAuthError),
        (403, "Wrong Datacenter", None, False, errors.MailchimpWrongDatacenterError),
        (
            403,
            None,
            "https://mailchimp.com/developer/marketing/docs/errors/#WrongDatacenter",
            False,
            errors.MailchimpWrongDatacenterError,
        ),
        (403, None, None, True, errors.MailchimpRateLimitError),
        (404, "Resource Not Found", None, False, errors.MailchimpNotFoundError),
        (
            400,
            "Member In Compliance State",
            None,
            False,
            errors.MailchimpComplianceError,
        ),
        (
            400,
            "Forgotten Email Not Subscribed",
            None,
            False,
            errors.MailchimpComplianceError,
        ),
        (403, "Compliance Related", None, False, errors.MailchimpComplianceError),
        (400, "Invalid Resource", None, False, errors.MailchimpInvalidResourceError),
        (400, "Member Exists", None, False, errors.MailchimpBadRequestError),
        (400, "Bad Request", None, False, errors.MailchimpBadRequestError),
        (405, "Method Not Allowed", None, False, errors.MailchimpBadRequestError),
        (422, "Invalid Method Override", None, False, errors.MailchimpBadRequestError),
        (429, "Too Many Requests", None, False, errors.MailchimpRateLimitError),
        (500, "Internal Server Error", None, False, errors.MailchimpServerError),
        (502, "Bad Gateway", None, False, errors.MailchimpServerError),
        (201, None, None, True, errors.MailchimpError),
    ],
)
def test_error_class_for_picks_the_subclass(status, title, error_type, empty, expected):
    assert (
        errors.error_class_for(status, title, error_type, empty_body=empty) is expected
    )


def test_hierarchy_and_transient_flags():
    assert issubclass(errors.MailchimpWrongDatacenterError, errors.MailchimpAuthError)
    assert issubclass(errors.MailchimpTimeoutError, errors.MailchimpNetworkError)
    for cls in (
        errors.MailchimpConfigError,
        errors.MailchimpAuthError,
        errors.MailchimpNotFoundError,
        errors.MailchimpComplianceError,
        errors.MailchimpInvalidResourceError,
        errors.MailchimpBadRequestError,
        errors.MailchimpRateLimitError,
        errors.MailchimpServerError,
        errors.MailchimpNetworkError,
    ):
        assert issubclass(cls, errors.MailchimpError)
    transient = {
        cls.__name__
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.MailchimpError)
        and cls.transient
    }
    assert transient == {
        "MailchimpRateLimitError",
        "MailchimpServerError",
        "MailchimpNetworkError",
        "MailchimpTimeoutError",
    }


def test_summary_names_status_title_detail_and_field_errors():
    error = errors.MailchimpInvalidResourceError(
        "Your merge fields were invalid.",
        status=400,
        title="Invalid Resource",
        instance="abc-123",
        errors=[
            {"field": "FNAME", "message": "Please enter a value"},
            {"message": "Too long"},
        ],
    )
    assert str(error) == (
        "HTTP 400 Invalid Resource: Your merge fields were invalid. "
        "[FNAME: Please enter a value; Too long]"
    )


# -- bulk payloads ------------------------------------------------------------


def test_chunked_splits_at_the_size():
    assert [len(chunk) for chunk in chunked(range(1001), 500)] == [500, 500, 1]
    assert list(chunked([], 500)) == []


def test_batch_operation_encodes_body_as_json_string():
    op = batch_operation(
        "put",
        "lists/L1/members/h",
        params={"skip_merge_validation": True, "fields": ["id", "status"]},
        body={"email_address": "a@example.com"},
        operation_id=7,
    )
    assert op == {
        "method": "PUT",
        "path": "/lists/L1/members/h",
        "params": {"skip_merge_validation": "true", "fields": "id,status"},
        "body": '{"email_address": "a@example.com"}',
        "operation_id": "7",
    }
    assert batch_operation("GET", "/lists", body='{"raw": 1}')["body"] == '{"raw": 1}'
    with pytest.raises(ValueError):
        batch_operation("TRACE", "/lists")
    with pytest.raises(ValueError):
        batch_operation("GET", "")


def _tarball(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            if content is None:
                info = tarfile.TarInfo(name)
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                continue
            data = content.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_parse_batch_results_reads_every_json_file():
    archive = _tarball(
        {
            "d1a2/": None,
            "d1a2/0.json": json.dumps(
                [
                    {
                        "status_code": 200,
                        "operation_id": "op-1",
                        "response": json.dumps({"id": "h1"}),
                    },
                    {"status_code": 204, "operation_id": "op-2", "response": ""},
                ]
            ),
            "d1a2/1.json": json.dumps(
                [
                    {
                        "status_code": 400,
                        "operation_id": "op-3",
                        "response": json.dumps(
                            {"title": "Invalid Resource", "status": 400}
                        ),
                    }
                ]
            ),
            "d1a2/readme.txt": "not results",
            "d1a2/2.json": json.dumps(
                [{"status_code": 500, "operation_id": None, "response": "<html>"}]
            ),
        }
    )
    results = parse_batch_results(archive)
    assert results == [
        {"status_code": 200, "operation_id": "op-1", "response": {"id": "h1"}},
        {"status_code": 204, "operation_id": "op-2", "response": None},
        {
            "status_code": 400,
            "operation_id": "op-3",
            "response": {"title": "Invalid Resource", "status": 400},
        },
        {"status_code": 500, "operation_id": None, "response": "<html>"},
    ]


def test_batch_subscribe_result_normalises_errors():
    result = BatchSubscribeResult()
    assert not result.errors
    result.add_response(
        {
            "new_members": [{"email_address": "a@example.com"}],
            "updated_members": [{"email_address": "b@example.com"}],
            "errors": [
                {
                    "email_address": "bad",
                    "error": "looks fake",
                    "error_code": "ERROR_GENERIC",
                }
            ],
        }
    )
    result.add_response({"new_members": [], "updated_members": [], "errors": []})
    assert [m["email_address"] for m in result.created] == ["a@example.com"]
    assert [m["email_address"] for m in result.updated] == ["b@example.com"]
    assert result.errors == [
        {
            "email_address": "bad",
            "error": "looks fake",
            "error_code": "ERROR_GENERIC",
            "field": None,
            "field_message": None,
        }
    ]
    assert result.errors
