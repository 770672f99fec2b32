"""Placeholder replaced below."""


def run_queue_check(command, db):
    return [("not written yet", False)]
