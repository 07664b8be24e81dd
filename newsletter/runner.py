"""Sending what is due: one pass (`run --once`, for cron or a systemd timer) or a loop.

A pass, in order:

1. deliveries left in `sending` by a crash go back to pending (the only duplicate window: the
   message each connection had in flight when the process died may arrive twice);
2. issues whose time has come get one pending delivery per subscriber (suppressed addresses
   left out), in one transaction, so a missed week is caught up once;
3. `settings.smtp.connections` workers, each with its own SMTP connection and its own outbox
   connection, sharing one rate limiter, claim deliveries one at a time: mark `sending`
   (committed, Message-ID stored), send, then record `sent` / `failed-*` right after the answer,
   or `unknown` when the body went out and no answer came (retried once, in a later pass).

The outbox is the truth; the `schedule` package only wakes the loop. Only one runner may use a
SQLite outbox at a time (an advisory lock file next to its real path); a PostgreSQL outbox is
shared by any number, on any machines, each claim a lease the runner renews while it sends. A
run never creates an outbox, and stops when the file it started with is deleted or replaced:
sending on into an unlinked file would record nothing, and a new outbox would forget the
history, the suppression list and the unsubscribe secret.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import multiprocessing
import os
import queue
import random
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from functools import cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

import schedule

from .config import Settings, smtp_password
from .errors import (
    ConfigError,
    DeliveryError,
    NewsletterError,
    OutboxBusy,
    OutboxError,
    RecipientError,
    SubscriberError,
    TemplateError,
)
from .mailer import RateLimiter, SendResult, SmtpConnection
from .message import Outgoing, PreparedIssue, eml_bytes, outgoing, prepare
from .model import Email, TextWarning
from .outbox import (
    BOUNCE_REASON,
    Answer,
    Delivery,
    Outbox,
    State,
    StoredIssue,
    gone,
    open_outbox,
    outbox_path,
    replaced,
)
from .subscribers import Subscriber, read_subscribers, subscribers_path
from .text import header_trouble
from .unsubscribe import load_secret, unsubscribe_url

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
WARNINGS_KEPT = 50
BACKOFF_CAP = 6 * 3600.0
CHECK_READER = "reader@example.com"  # the stand-in an issue is built for before it starts
AFTER_A_TRY = (State.SENT, State.FAILED_TEMPORARY, State.FAILED_PERMANENT, State.UNKNOWN)


class Sender(Protocol):
    """What a worker needs from an SMTP connection (mailer.SmtpConnection is the real one)."""

    def open(self) -> None: ...

    def send(self, msg: Outgoing, from_addr: str, to_addr: str) -> SendResult: ...

    def close(self) -> None: ...


SenderFactory = Callable[[Settings], Sender]


def smtp_sender(settings: Settings) -> Sender:
    """The real transport, with the password from the environment variable settings name."""
    return SmtpConnection(settings, password=smtp_password(settings))


def backoff_seconds(attempt: int, base: float, rng: random.Random) -> float:
    """Delay before retry `attempt` (1, 2, ...): base, 2*base, 4*base... plus up to 25% jitter.

    The jitter spreads retries so a recovering server is not hit by every message at once.
    """
    delay = min(base * 2.0 ** max(attempt - 1, 0), BACKOFF_CAP)
    return delay * (1 + 0.25 * rng.random())


@dataclass(frozen=True)
class RunReport:
    """What one pass did (or, for a dry run, would do)."""

    recovered: int = 0
    started: tuple[tuple[str, int, int], ...] = ()  # (series slug, issue number, recipients)
    failed_issues: tuple[tuple[str, int, str], ...] = ()  # (series slug, issue number, why)
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unknown: int = 0  # the body went out, no final reply came: retried once, on a later pass
    written: int = 0
    stopped: bool = False
    warnings: tuple[TextWarning, ...] = ()
    warning_count: int = 0
    out: Path | None = None

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed + self.unknown


class _Warnings:
    """Collect list warnings without keeping a million of them."""

    def __init__(self) -> None:
        self.kept: list[TextWarning] = []
        self.count = 0

    def __call__(self, warning: TextWarning) -> None:
        self.count += 1
        if len(self.kept) < WARNINGS_KEPT:
            self.kept.append(warning)
        log.warning("%s", warning)


class _Watch:
    """The outbox file a run started with; a pass or worker finding another one, or none, stops.

    A PostgreSQL outbox has no file to lose: `path` is None and it is simply opened."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = None if settings.outbox.url else outbox_path(settings)
        self.seen: tuple[int, int, str] | None = None
        self._lock = threading.Lock()

    def open(self) -> Outbox:
        if self.path is None:
            return open_outbox(self.settings, create=False)
        if self.seen is not None and not self.path.exists():
            raise gone(self.path)
        outbox = open_outbox(self.settings, create=False)  # only `schedule` makes an outbox
        try:
            found = outbox.identity()
            with self._lock:
                if self.seen is None:
                    self.seen = found
                elif found != self.seen:
                    raise replaced(self.path)
        except BaseException:
            outbox.close()
            raise
        return outbox


@contextlib.contextmanager
def runner_lock(outbox_file: Path | None) -> Iterator[None]:
    """An advisory lock next to the outbox: two runners would resend each other's in-flight rows.

    The kernel drops it when the process dies, even by SIGKILL, so it never goes stale. It sits
    next to the real file, so a symlink (or another spelling of the path) meets the same lock.
    A PostgreSQL outbox (None) takes none: there, runners on many machines share the work, and
    a claim's lease, not a lock file, says whose a row in flight is.
    """
    if outbox_file is None:
        yield
        return
    real = outbox_file.resolve()
    path = real.with_name(real.name + ".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise OutboxError(f"{path}: cannot create the runner lock ({e.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutboxBusy(
                f"another 'newsletter run' is sending from {outbox_file}; "
                "let it finish or stop it first"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def run_once(
    settings: Settings,
    now: datetime,
    *,
    clock: Clock | None = None,
    sender_factory: SenderFactory = smtp_sender,
    stop: threading.Event | None = None,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    workers: int = 1,
) -> RunReport:
    """One pass at time `now`: start the issues due by then and send every delivery waiting.

    `clock` stamps the rows and Date headers during the pass (default: `now` throughout).
    Retries whose time comes during the pass wait for the next one. `workers` > 1 sends from
    that many processes, each with its own `[smtp] connections`.
    """
    watch = _Watch(settings)
    open_outbox(settings, create=False).close()  # no outbox: say so before making a lock file
    with runner_lock(watch.path):
        return _pass(
            settings,
            now,
            watch=watch,
            clock=clock or (lambda: now),
            sender_factory=sender_factory,
            stop=stop or threading.Event(),
            environ=os.environ if environ is None else environ,
            rng=rng or random.Random(),
            workers=workers,
        )


def run_loop(
    settings: Settings,
    *,
    clock: Clock,
    stop: threading.Event,
    sender_factory: SenderFactory = smtp_sender,
    on_report: Callable[[RunReport], None] | None = None,
    on_error: Callable[[NewsletterError], None] | None = None,
    environ: Mapping[str, str] | None = None,
    workers: int = 1,
) -> None:
    """Pass now, then every `schedule.poll_seconds`, until `stop` is set (SIGTERM, Ctrl-C).

    A wrong setting or an unusable outbox stops the loop (it would fail the same way every
    time); other errors, such as an unreachable server or a busy outbox, are reported and the
    next tick tries again.
    """
    watch = _Watch(settings)
    open_outbox(settings, create=False).close()
    rng = random.Random()
    env = os.environ if environ is None else environ

    def tick() -> None:
        if stop.is_set():
            return
        try:
            report = _pass(
                settings,
                clock(),
                watch=watch,
                clock=clock,
                sender_factory=sender_factory,
                stop=stop,
                environ=env,
                rng=rng,
                workers=workers,
            )
        except OutboxBusy as e:
            if on_error is None:
                raise
            on_error(e)
            return
        except (ConfigError, OutboxError):
            raise
        except NewsletterError as e:
            if on_error is None:
                raise
            on_error(e)
            return
        if on_report is not None:
            on_report(report)

    with runner_lock(watch.path):
        scheduler = schedule.Scheduler()
        scheduler.every(settings.schedule.poll_seconds).seconds.do(tick)
        tick()
        while not stop.is_set():
            scheduler.run_pending()
            idle = scheduler.idle_seconds
            wait = settings.schedule.poll_seconds if idle is None else idle
            stop.wait(min(max(wait, 0.05), settings.schedule.poll_seconds))


def _message_id(settings: Settings) -> str:
    return f"<{uuid.uuid4().hex}@{_id_domain(settings.newsletter.from_addr)}>"


@cache
def _id_domain(from_addr: str) -> str:
    """The Message-ID's domain: the sender's (parsed once, not for every message)."""
    return parseaddr(from_addr)[1].rpartition("@")[2] or "newsletter.local"


def _counted(subscribers: Iterator[Subscriber], source: Path) -> Iterator[Subscriber]:
    """Pass the list through; an empty list fails inside the transaction, so nothing starts."""
    n = 0
    for sub in subscribers:
        n += 1
        yield sub
    if n == 0:
        raise SubscriberError(
            f"{source}: no valid subscribers; nothing was sent and the issue stays due"
        )


def issue_problem(settings: Settings, stored: StoredIssue, now: datetime) -> str | None:
    """Why no message of this issue can be built (checked on a stand-in reader), or None."""
    for what, value in (("subject", stored.email.subject), ("preheader", stored.email.preheader)):
        trouble = header_trouble(value)
        if trouble:
            return f"its {what} {value[:60]!r} {trouble}"
    try:
        outgoing(
            stored.email,
            settings,
            to_addr=CHECK_READER,
            to_name=None,
            unsubscribe_url=unsubscribe_url(settings, CHECK_READER, b"check"),
            date=now,
        )
    except (NewsletterError, ValueError, UnicodeError) as e:  # the email package's refusals
        return f"cannot build its message: {e}"
    return None


def _buildable(
    outbox: Outbox, settings: Settings, now: datetime
) -> tuple[list[StoredIssue], list[tuple[StoredIssue, str]]]:
    """The issues due at `now` that can be built, and those that cannot, each with why."""
    due, failed = [], []
    for stored in outbox.due_issues(now):
        problem = issue_problem(settings, stored, now)
        if problem is None:
            due.append(stored)
        else:
            failed.append((stored, problem))
    return due, failed


def _start_due(
    outbox: Outbox, settings: Settings, now: datetime, warnings: _Warnings
) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, str]]]:
    """Start the due issues; one that cannot be built is failed alone, with why, and the others
    still start."""
    due, failed = _buildable(outbox, settings, now)
    for stored, problem in failed:
        outbox.fail_issue(stored.issue_id, problem)
        log.debug("%s issue %d failed: %s", stored.series_slug, stored.number, problem)
    failed_issues = [(stored.series_slug, stored.number, problem) for stored, problem in failed]
    if not due:
        return [], failed_issues
    source = subscribers_path(settings)
    subs = read_subscribers(source, on_warning=warnings)
    recipients = outbox.materialize([d.issue_id for d in due], _counted(subs, source), now)
    started = []
    for d in due:
        started.append((d.series_slug, d.number, recipients.get(d.issue_id, 0)))
        log.debug("started %s issue %d: %d recipients", d.series_slug, d.number, started[-1][2])
    return started, failed_issues


def _pass(
    settings: Settings,
    now: datetime,
    *,
    watch: _Watch,
    clock: Clock,
    sender_factory: SenderFactory,
    stop: threading.Event,
    environ: Mapping[str, str],
    rng: random.Random,
    workers: int = 1,
) -> RunReport:
    warnings = _Warnings()
    with watch.open() as outbox:
        recovered = outbox.recover_in_flight(now)
        if recovered:
            log.warning(
                "%d message(s) were in flight when the last run stopped: resending", recovered
            )
        started, failed_issues = _start_due(outbox, settings, now, warnings)
        secret = load_secret(outbox, environ)
        waiting = 0 if stop.is_set() else outbox.count_waiting(now)
    report = RunReport(
        recovered=recovered,
        started=tuple(started),
        failed_issues=tuple(failed_issues),
        warnings=tuple(warnings.kept),
        warning_count=warnings.count,
    )
    if waiting == 0:
        return dataclasses.replace(report, stopped=stop.is_set())
    phase = _SendPhase(settings, now, watch, clock, sender_factory, stop, secret, waiting)
    counts = phase.run(rng) if workers == 1 else phase.in_processes(workers)
    return dataclasses.replace(
        report,
        sent=counts[State.SENT],
        retrying=counts[State.FAILED_TEMPORARY],
        failed=counts[State.FAILED_PERMANENT],
        unknown=counts[State.UNKNOWN],
        stopped=stop.is_set(),
    )


@dataclass(frozen=True)
class _SendPhase:
    """Step 3 of a pass: the waiting deliveries sent over `[smtp] connections` connections, in
    this process or in `workers` processes that each claim their own from the outbox."""

    settings: Settings
    now: datetime
    watch: _Watch
    clock: Clock
    sender_factory: SenderFactory
    stop: threading.Event
    secret: bytes
    waiting: int

    def run(self, rng: random.Random, rate_share: int = 1) -> dict[State, int]:
        """Open the connections at once (32 opened one by one at a 20 ms round trip take a
        second), send, and close them at once."""
        count = min(self.settings.smtp.connections, self.waiting)
        senders = [self.sender_factory(self.settings) for _ in range(count)]
        opened: list[Sender] = []
        try:
            with ThreadPoolExecutor(count, thread_name_prefix="newsletter-open") as pool:
                futures = {pool.submit(sender.open): sender for sender in senders}
                errors = []
                for future, sender in futures.items():
                    if (error := future.exception()) is None:
                        opened.append(sender)
                    else:
                        errors.append(error)
            if errors:  # every connection fails the same way (refused, TLS, login): say it once
                raise errors[0]
            return _send_all(
                self.settings, self.now, opened, self.clock, self.stop, self.secret, rng,
                self.watch, rate_share,
            )  # fmt: skip
        finally:
            if opened:
                with ThreadPoolExecutor(len(opened), thread_name_prefix="newsletter-close") as pool:
                    list(pool.map(lambda sender: sender.close(), opened))

    def in_processes(self, workers: int) -> dict[State, int]:
        """Fork `workers` senders (both cores, each with its own connections and its own outbox
        connection; claims are transactions, so no delivery is taken twice). A signal reaches
        them too and each stops as `run` does; one killed loses only its messages in flight,
        which the next pass sends again."""
        ctx = multiprocessing.get_context("fork")  # the pass is single-threaded here
        children = []
        for _ in range(workers):
            receive, send = ctx.Pipe(duplex=False)
            child = ctx.Process(target=self._child, args=(send, workers), daemon=True)
            child.start()
            send.close()
            children.append((child, receive))
        forwarded = False
        while any(child.is_alive() for child, _ in children):
            if self.stop.is_set() and not forwarded:  # a signal to this process alone
                for child, _ in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid or 0, signal.SIGTERM)
                forwarded = True
            self.stop.wait(0.05)
        totals = dict.fromkeys(AFTER_A_TRY, 0)
        errors: list[BaseException] = []
        for child, receive in children:
            try:
                outcome = receive.recv() if receive.poll() else None
            except EOFError:  # killed before it could report
                outcome = None
            child.join()
            if outcome is None:
                log.warning(
                    "a sender process ended without a report (exit %s); its messages in flight "
                    "go out again on the next pass",
                    child.exitcode,
                )
            elif isinstance(outcome, BaseException):
                errors.append(outcome)
            else:
                for state, n in outcome.items():
                    totals[State(state)] += n
        if errors:
            raise errors[0]
        return totals

    def _child(self, report: Connection, workers: int) -> None:
        outcome: object
        try:
            counts = self.run(random.Random(), rate_share=workers)
            outcome = {state.value: n for state, n in counts.items()}
        except NewsletterError as e:
            outcome = e
        except BaseException as e:  # handed to the parent, which reports it
            outcome = NewsletterError(f"a sender process failed: {type(e).__name__}: {e}")
        report.send(outcome)
        report.close()


@dataclass
class _Shared:
    """State the workers share: counters and the first unexpected error."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[State, int] = field(default_factory=lambda: dict.fromkeys(AFTER_A_TRY, 0))
    error: BaseException | None = None
    issues: dict[int, tuple[StoredIssue, PreparedIssue | NewsletterError]] = field(
        default_factory=dict
    )
    preparing: threading.Lock = field(default_factory=threading.Lock)

    def issue(
        self, outbox: Outbox, settings: Settings, issue_id: int
    ) -> tuple[StoredIssue, PreparedIssue | NewsletterError]:
        """The issue and its message, prepared once for all the senders of this process (32
        senders preparing it each would hold the first message back by a second)."""
        with self.preparing:
            if issue_id not in self.issues:
                stored = outbox.stored_issue(issue_id)
                self.issues[issue_id] = (stored, _prepare(settings, stored.email))
            return self.issues[issue_id]


def _send_all(
    settings: Settings,
    now: datetime,
    senders: list[Sender],
    clock: Clock,
    stop: threading.Event,
    secret: bytes,
    rng: random.Random,
    watch: _Watch,
    rate_share: int = 1,
) -> dict[State, int]:
    """Send with one thread per sender; under a rate limit each of `rate_share` processes
    spaces its messages `rate_share` times as far apart."""
    shared = _Shared()
    # Workers stop on the caller's `stop` (a signal) or on `halt` (another worker failed); the
    # caller's event is never set from here, so one failed pass does not end the loop.
    halt = threading.Event()

    def stopped() -> bool:
        return stop.is_set() or halt.is_set()

    def pause(seconds: float) -> None:
        """Sleep, but a signal ends it at once (and a failed worker within 50 ms)."""
        end = time.monotonic() + seconds
        while not stopped() and (left := end - time.monotonic()) > 0:
            stop.wait(min(left, 0.05))

    limiter = (
        RateLimiter(settings.smtp.rate_interval * rate_share, sleep=pause)
        if settings.smtp.rate_limit > 0
        else None
    )
    for sender in senders:
        if isinstance(sender, SmtpConnection):
            sender.stop_on(stopped, pause)
    rng_lock = threading.Lock()

    def retry_delay(attempt: int) -> float:
        with rng_lock:
            return backoff_seconds(attempt, settings.smtp.retry_after, rng)

    desk = _Desk(watch, settings, now, clock, retry_delay)

    def worker(sender: Sender) -> None:
        try:
            _work(settings, sender, clock, (stop, halt), secret, limiter, shared, watch, desk)
        except BaseException as e:  # handed to the main thread, which raises it
            with shared.lock:
                if shared.error is None:
                    shared.error = e
            halt.set()

    threads = [
        threading.Thread(target=worker, args=(s,), name=f"newsletter-send-{i}", daemon=True)
        for i, s in enumerate(senders, start=1)
    ]
    with _leases_kept(watch, clock, settings.outbox.lease_seconds / 3), desk:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if shared.error is not None:
        raise shared.error
    return shared.counts


@contextlib.contextmanager
def _leases_kept(watch: _Watch, clock: Clock, every: float) -> Iterator[None]:
    """While the workers send, renew the leases of the rows this process holds every `every`
    seconds, on a connection of its own: a send may take up to [smtp] data_timeout, and only a
    dead runner's rows may go back to the queue."""
    done = threading.Event()

    def beat() -> None:
        try:
            outbox = watch.open()
        except NewsletterError as e:  # the workers meet the same trouble and stop
            log.warning("cannot renew the leases of the messages in flight: %s", e)
            return
        with outbox:
            while not done.wait(every):
                try:
                    outbox.renew_leases(clock())
                except NewsletterError as e:  # tried again at the next beat
                    log.warning("could not renew the leases of the messages in flight: %s", e)

    heart = threading.Thread(target=beat, name="newsletter-leases", daemon=True)
    heart.start()
    try:
        yield
    finally:
        done.set()
        heart.join()


def _work(
    settings: Settings,
    sender: Sender,
    clock: Clock,
    stops: tuple[threading.Event, ...],
    secret: bytes,
    limiter: RateLimiter | None,
    shared: _Shared,
    watch: _Watch,
    desk: _Desk,
) -> None:
    """One sender's loop: hand in the last answer and take the next delivery (one step at the
    desk, so the answer is stored before the next message goes), build it, send it."""
    envelope_from = parseaddr(settings.newsletter.from_addr)[1]
    answer: Answer | None = None
    answered: tuple[StoredIssue, Delivery, SendResult] | None = None

    def hand_in(claim: bool) -> Delivery | None:
        nonlocal answer
        state, delivery = desk.exchange(answer, claim=claim)
        if answer is not None and state is not None and answered is not None:
            stored, delivery_done, result = answered
            _log_result(stored, delivery_done, state, result)
            with shared.lock:
                shared.counts[state] += 1
        answer = None
        return delivery

    with watch.open() as outbox:  # this sender's own reads (the issues it sends)
        while not any(s.is_set() for s in stops):
            if limiter is not None:
                if answer is not None:
                    hand_in(claim=False)
                limiter.wait()
                if any(s.is_set() for s in stops):  # a stop ended the wait: take nothing more
                    break
            delivery = hand_in(claim=True)
            if delivery is None:
                return
            stored, prepared = shared.issue(outbox, settings, delivery.issue_id)
            try:
                if isinstance(prepared, NewsletterError):
                    raise prepared
                msg = _build(settings, prepared, delivery, secret, clock())
            except (RecipientError, TemplateError) as e:
                result = SendResult("permanent", None, f"cannot build the message: {e}")
            else:
                try:
                    result = sender.send(msg, envelope_from, delivery.email)
                except DeliveryError as e:
                    # The connection is gone for good; the row is retried on a later pass.
                    answer = Answer(delivery.id, "temporary", None, str(e), clock())
                    answered = None
                    hand_in(claim=False)
                    raise
            suppress = f"{BOUNCE_REASON} {result.code}: {result.detail}"
            answer = Answer(
                delivery.id, result.status, result.code, result.detail, clock(),
                suppress if result.bad_address else None,
            )  # fmt: skip
            answered = (stored, delivery, result)
    if answer is not None:  # stopped: the last answer is stored before the sender leaves
        hand_in(claim=False)


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class _Request:
    """One sender's step at the desk: its last answer, and a Message-ID to claim with."""

    answer: Answer | None
    claim: str | None
    # Held until the desk has settled it: a bare lock is the cheapest one-shot signal.
    done: threading.Lock = field(default_factory=_held_lock)
    state: State | None = None
    delivery: Delivery | None = None
    error: BaseException | None = None


class _Desk:
    """The outbox connection a process's senders share. Each hands in its last answer and asks
    for its next delivery; the desk settles every request waiting in one transaction (group
    commit: one fsync for several messages, and no sender queues for another's write lock). A
    sender gets its next delivery only once its last answer is stored, so a crash still costs at
    most the one message per connection in flight."""

    def __init__(
        self,
        watch: _Watch,
        settings: Settings,
        now: datetime,
        clock: Clock,
        retry_delay: Callable[[int], float],
    ) -> None:
        self._watch, self._settings, self._now, self._clock = watch, settings, now, clock
        self._retry_delay = retry_delay
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="newsletter-outbox", daemon=True)

    def __enter__(self) -> _Desk:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._requests.put(None)
        self._thread.join()

    def exchange(
        self, answer: Answer | None, *, claim: bool
    ) -> tuple[State | None, Delivery | None]:
        """Store `answer` and, with `claim`, take the next delivery (None: nothing left)."""
        request = _Request(answer, _message_id(self._settings) if claim else None)
        self._requests.put(request)
        request.done.acquire()  # released by the desk once it is settled
        if request.error is not None:
            raise request.error
        return request.state, request.delivery

    def _serve(self) -> None:
        opened: Outbox | BaseException
        try:
            opened = self._watch.open()  # opened in this thread, the one that uses it
        except BaseException as e:  # every sender meets it at its first step
            opened = e
        try:
            while (first := self._requests.get()) is not None:
                batch = [first]
                closing = False
                while not closing:
                    try:
                        more = self._requests.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        closing = True
                    else:
                        batch.append(more)
                self._settle(opened, batch)
                if closing:
                    return
        finally:
            if isinstance(opened, Outbox):
                opened.close()

    def _settle(self, outbox: Outbox | BaseException, batch: list[_Request]) -> None:
        try:
            if isinstance(outbox, BaseException):
                raise outbox
            outbox.check_in_place()  # one stat per commit: a deleted outbox stops the sending
            states, taken = outbox.settle(
                [r.answer for r in batch if r.answer is not None],
                [r.claim for r in batch if r.claim is not None],
                now=self._now,
                at=self._clock(),
                max_attempts=self._settings.smtp.max_attempts,
                retry_delay=self._retry_delay,
            )
        except BaseException as e:  # each sender raises it; the pass stops
            for r in batch:
                r.error = e
                r.done.release()
            return
        next_state, next_taken = iter(states), iter(taken)
        for r in batch:
            if r.answer is not None:
                r.state = next(next_state)
            if r.claim is not None:
                r.delivery = next(next_taken)
            r.done.release()


def _prepare(settings: Settings, email: Email) -> PreparedIssue | NewsletterError:
    """The issue's message built once; an issue that cannot be built fails each of its
    deliveries with the reason, and the other issues go on."""
    try:
        return prepare(email, settings)
    except (RecipientError, TemplateError) as e:
        return e


def _build(
    settings: Settings,
    prepared: PreparedIssue,
    delivery: Delivery,
    secret: bytes,
    date: datetime,
) -> Outgoing:
    return prepared.message(
        to_addr=delivery.email,
        to_name=delivery.name,
        unsubscribe_url=unsubscribe_url(settings, delivery.email, secret),
        message_id=delivery.message_id,
        date=date,
        fields=delivery.fields,
    )


def _log_result(stored: StoredIssue, delivery: Delivery, state: State, result: SendResult) -> None:
    where = f"{stored.series_slug} issue {stored.number} to {delivery.email}"
    if state == State.SENT:
        log.debug("sent %s", where)
    elif state == State.FAILED_TEMPORARY:
        log.info("will retry %s: %s %s", where, result.code or "", result.detail)
    elif state == State.UNKNOWN:
        log.warning("no final reply for %s (not resent in this pass): %s", where, result.detail)
    else:
        suppressed = "; the address is now suppressed" if result.bad_address else ""
        log.warning("failed %s: %s %s%s", where, result.code or "", result.detail, suppressed)


# -- dry run ------------------------------------------------------------------------------------


def dry_run(
    settings: Settings,
    now: datetime,
    out: Path,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunReport:
    """Write, as .eml files under `out`, every message a pass at `now` would send.

    Nothing in the outbox changes (apart from creating the unsubscribe secret on first use), so
    a real run afterwards still sends everything.
    """
    stamp = clock or (lambda: now)
    warnings = _Warnings()
    written = 0
    with open_outbox(settings, create=False) as outbox:
        secret = load_secret(outbox, os.environ if environ is None else environ)
        issues: dict[int, StoredIssue] = {}
        prepared: dict[int, PreparedIssue] = {}
        per_folder: dict[Path, int] = {}

        def write(issue_id: int, delivery: Delivery) -> None:
            nonlocal written
            if issue_id not in issues:
                issues[issue_id] = outbox.stored_issue(issue_id)
            stored = issues[issue_id]
            if issue_id not in prepared:
                prepared[issue_id] = prepare(stored.email, settings)
            msg = _build(settings, prepared[issue_id], delivery, secret, stamp())
            folder = out / stored.series_slug / f"{stored.number:02d}-{stored.slug}"
            folder.mkdir(parents=True, exist_ok=True)
            written += 1
            per_folder[folder] = per_folder.get(folder, 0) + 1
            name = re.sub(r"[^A-Za-z0-9@._-]+", "_", delivery.email)[:80]
            (folder / f"{per_folder[folder]:06d}-{name}.eml").write_bytes(eml_bytes(msg))

        for delivery in outbox.waiting(now):
            write(delivery.issue_id, delivery)
        due, failed = _buildable(outbox, settings, now)
        if due:
            source = subscribers_path(settings)
            for sub in _counted(read_subscribers(source, on_warning=warnings), source):
                if outbox.is_suppressed(sub.email):
                    continue
                for issue in due:
                    write(
                        issue.issue_id,
                        Delivery(
                            id=0,
                            issue_id=issue.issue_id,
                            email=sub.email,
                            name=sub.name,
                            fields=sub.fields,
                            state=State.PENDING,
                            attempts=0,
                            message_id=_message_id(settings),
                        ),
                    )
    return RunReport(
        started=tuple((d.series_slug, d.number, 0) for d in due),
        failed_issues=tuple((st.series_slug, st.number, problem) for st, problem in failed),
        written=written,
        warnings=tuple(warnings.kept),
        warning_count=warnings.count,
        out=out,
    )
