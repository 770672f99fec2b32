"""Command line: ``python -m mailchimp_sandbox --host 0.0.0.0 --port 8090``.

Environment: MAILCHIMP_SANDBOX_LATENCY (seconds added to every API call),
MAILCHIMP_SANDBOX_TIMEOUT (request timeout, default 120),
MAILCHIMP_SANDBOX_MAX_CONNECTIONS (default 10), MAILCHIMP_SANDBOX_SEED
(members to seed into the default audience), MAILCHIMP_SANDBOX_WEBHOOK_VALIDATION
(0 to disable), MAILCHIMP_SANDBOX_VERBOSE (1 to log requests).
Behaviour switches (kept by a reset): MAILCHIMP_SANDBOX_SINCE (exclusive, the
default, or inclusive), MAILCHIMP_SANDBOX_ARCHIVED_LISTED (1: archived members
listed without status=), MAILCHIMP_SANDBOX_SAME_SECOND_ORDER (change, the
default, or id).
"""

# a command-line program: what it prints is its output, not a log line
# pylint: disable=print-used

import argparse
import contextlib
import os

from .constants import DEFAULT_API_KEY, DEFAULT_LIST_ID
from .server import Sandbox


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="mailchimp_sandbox", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--host", default=os.environ.get("MAILCHIMP_SANDBOX_HOST", "127.0.0.1")
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("MAILCHIMP_SANDBOX_PORT", "8090")),
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=os.environ.get("MAILCHIMP_SANDBOX_VERBOSE") == "1",
    )
    args = parser.parse_args(argv)
    sb = Sandbox(host=args.host, port=args.port, verbose=args.verbose)
    env = os.environ.get
    if env("MAILCHIMP_SANDBOX_LATENCY"):
        sb.state.set_latency(float(env("MAILCHIMP_SANDBOX_LATENCY")))
    sb.state.set_limits(
        max_connections=env("MAILCHIMP_SANDBOX_MAX_CONNECTIONS"),
        request_timeout=env("MAILCHIMP_SANDBOX_TIMEOUT"),
    )
    if env("MAILCHIMP_SANDBOX_WEBHOOK_VALIDATION") == "0":
        sb.state.set_webhook_validation(False)
    sb.state.set_behaviour(
        default=True,
        since=env("MAILCHIMP_SANDBOX_SINCE") or None,
        archived_listed=env("MAILCHIMP_SANDBOX_ARCHIVED_LISTED") or None,
        same_second_order=env("MAILCHIMP_SANDBOX_SAME_SECOND_ORDER") or None,
    )
    if env("MAILCHIMP_SANDBOX_SEED"):
        sb.state.seed(DEFAULT_LIST_ID, int(env("MAILCHIMP_SANDBOX_SEED")))
    print(
        f"Mailchimp sandbox on http://{args.host}:{args.port}/us1/3.0 "
        f"(key {DEFAULT_API_KEY}, audience {DEFAULT_LIST_ID})",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it quietly
        sb.serve_forever()


if __name__ == "__main__":
    main()
