"""Mailchimp Marketing API v3.0 sandbox (standard library only).

from mailchimp_sandbox import Sandbox
sb = Sandbox(host="127.0.0.1", port=0).start()
sb.api_url("us1")   # -> http://127.0.0.1:<port>/us1/3.0
sb.state            # in-memory state, see README "In-process use"
sb.stop()
"""

from .constants import (
    DEFAULT_ACCOUNT_EMAIL,
    DEFAULT_ACCOUNT_NAME,
    DEFAULT_API_KEY,
    DEFAULT_DC,
    DEFAULT_LIST_ID,
    DEFAULT_LIST_NAME,
)
from .server import Sandbox
from .store import State, subscriber_hash

__all__ = [
    "DEFAULT_ACCOUNT_EMAIL",
    "DEFAULT_ACCOUNT_NAME",
    "DEFAULT_API_KEY",
    "DEFAULT_DC",
    "DEFAULT_LIST_ID",
    "DEFAULT_LIST_NAME",
    "Sandbox",
    "State",
    "subscriber_hash",
]
