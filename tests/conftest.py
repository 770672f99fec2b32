"""Shared fixtures for the tests that need no Odoo.

The addon's ``utils`` package is plain Python, but importing it as
``mailchimp_connector.utils`` would run the addon's ``__init__`` (which imports
odoo).  It is therefore loaded here under the alias ``mailchimp_utils``.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "mailchimp_connector"
sys.path.insert(0, str(ROOT / "sandbox"))


def _load_utils():
    if "mailchimp_utils" in sys.modules:
        return sys.modules["mailchimp_utils"]
    spec = importlib.util.spec_from_file_location(
        "mailchimp_utils",
        ADDON / "utils" / "__init__.py",
        submodule_search_locations=[str(ADDON / "utils")],
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["mailchimp_utils"] = module
    spec.loader.exec_module(module)
    return module


_load_utils()


@pytest.fixture()
def sandbox():
    """A fresh Mailchimp sandbox on a free loopback port, stopped afterwards."""
    from mailchimp_sandbox import Sandbox

    server = Sandbox(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def api(sandbox):
    """Calls to the sandbox's API with its default key: ``api.get("/lists")``."""
    from mailchimp_sandbox import DEFAULT_API_KEY

    session = requests.Session()
    session.auth = ("anystring", DEFAULT_API_KEY)
    base = sandbox.api_url("us1")

    class Api:
        def __getattr__(self, method):
            return lambda path, **kw: session.request(method.upper(), base + path, **kw)

    yield Api()
    session.close()
