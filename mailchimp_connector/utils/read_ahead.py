"""Read the next items of an iterator while the caller works on the current one.

``read_ahead`` runs an iterator in one background thread; ``prefetch_pages``
fetches the pages of an offset walk in several, one client each.

The sync spends its time either waiting for Mailchimp or writing to the
database; reading the next page in a background thread lets the two overlap.
The iterator runs entirely in that one thread (it must not share anything
with the caller that is not thread-safe: the Mailchimp client's session is
fine as long as the caller makes no request of its own meanwhile).
"""

import concurrent.futures
import queue
import threading
from collections import deque

_END = object()


def read_ahead(iterable, ahead=1):
    """Yield ``iterable``'s items, producing up to ``ahead`` of them in advance.

    An exception of the iterator is raised in the caller, at the item where it
    happened. Closing the generator (a ``break``, an exception in the caller)
    stops the thread after the item it is producing, then closes the iterator.
    """
    items = queue.Queue(maxsize=max(1, int(ahead)))
    stop = threading.Event()

    def hand_over(entry):
        while not stop.is_set():
            try:
                items.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        iterator = iter(iterable)
        try:
            for item in iterator:
                if not hand_over((item, None)):
                    return
            hand_over((_END, None))
        except BaseException as error:  # handed to the caller
            hand_over((_END, error))
        finally:
            close = getattr(iterator, "close", None)
            if close:
                close()

    thread = threading.Thread(target=produce, name="mailchimp-read-ahead", daemon=True)
    # log lines of the thread name the caller's database, as Odoo's formatter reads it
    for attribute in ("dbname", "uid"):
        if hasattr(threading.current_thread(), attribute):
            setattr(thread, attribute, getattr(threading.current_thread(), attribute))
    thread.start()
    try:
        while True:
            item, error = items.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()


def prefetch_pages(fetch, offsets, clients, ahead=None):
    """Yield ``(offset, fetch(client, offset))`` in the order of ``offsets``
    while up to ``ahead`` later pages are fetched in background threads.

    ``offsets`` may be a generator: it is read lazily, and it can look at what
    has been yielded so far (e.g. stop once a short page was seen).  Each
    thread uses its own client from ``clients`` (a requests session must not
    be shared between threads), so at most ``len(clients)`` calls run at once.
    An exception of ``fetch`` is raised when its page's turn comes, after every
    earlier page was yielded; pages fetched further ahead are then dropped.
    Memory is bounded by ``ahead`` pages.
    """
    clients = list(clients)
    if not clients:
        raise ValueError("prefetch_pages needs at least one client")
    ahead = max(1, ahead or len(clients))
    free = deque(clients)
    lock = threading.Lock()

    def task(offset):
        with lock:
            client = free.popleft()
        try:
            return fetch(client, offset)
        finally:
            with lock:
                free.append(client)

    offsets = iter(offsets)
    pending = deque()
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=len(clients), thread_name_prefix="mailchimp-prefetch"
    ) as pool:
        try:
            while True:
                while len(pending) < ahead:
                    offset = next(offsets, None)
                    if offset is None:
                        break
                    pending.append((offset, pool.submit(task, offset)))
                if not pending:
                    return
                offset, future = pending.popleft()
                yield offset, future.result()
        finally:
            for _offset, future in pending:
                future.cancel()
