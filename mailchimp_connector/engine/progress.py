# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A run's progress: what it has done out of what it expects to do, and the bus
notification that tells the browsers showing it to read it again.

``progress_done`` counts the records a run has processed (Mailchimp members read
by the pull, Odoo contacts read by the push); ``progress_total`` is what it
expects in all: what it has done, what the stage in progress has left (the
listing's ``total_items``, the push's count of contacts), and what the stages
after it are expected to read (``later``)."""

import time

from ..utils.progress import NOTIFY_EVERY

NOTIFICATION = "mailchimp_connector.sync_progress"
# who may read runs: the notification names ids only, each browser reads the
# records again with its own access rights
AUDIENCE_GROUP = "mailchimp_connector.group_mailchimp_user"


class RunProgress:
    def __init__(self, run):
        self.run = run
        self.later = 0
        self._sent_at = None

    def expect(self, remaining):
        """The stage in progress has ``remaining`` records left to read."""
        run = self.run
        run.progress_total = run.progress_done + max(0, remaining) + self.later

    def expect_later(self, count):
        """A later stage will read ``count`` records more (a pull's new contacts,
        which the push reads after it)."""
        self.later += count
        self.run.progress_total += count

    def add(self, count):
        """``count`` more records processed (an estimate passed is raised)."""
        run = self.run
        run.progress_done += count
        if run.progress_total < run.progress_done:
            run.progress_total = run.progress_done

    def notify(self, force=False):
        """Tell the browsers, at most once a second unless ``force``; sent when
        the transaction that holds the figures commits."""
        now = time.monotonic()
        if (
            not force
            and self._sent_at is not None
            and now - self._sent_at < NOTIFY_EVERY
        ):
            return
        self._sent_at = now
        notify(self.run)


def notify(run):
    """The bus notification that ``run`` (and its sync) changed."""
    run.env.ref(AUDIENCE_GROUP)._bus_send(
        NOTIFICATION, {"run_id": run.id, "pairing_id": run.pairing_id.id}
    )
