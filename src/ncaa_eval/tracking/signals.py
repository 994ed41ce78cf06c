"""SIGTERM and Ctrl-C around a tracked run, installed by the command that owns the process.

The library never installs a signal handler by itself: the caller that owns the process (the
``train`` command, through :func:`ncaa_eval.training.train`) enters :func:`run_signals` and passes
what it yields to :meth:`RunStore.start_run <ncaa_eval.tracking.RunStore.start_run>`::

    with run_signals() as signals, store.start_run(run_name="elo", signals=signals) as run_id:
        ...

Inside the block SIGTERM raises :class:`RunTerminated` (a ``SystemExit`` with status 143) and
SIGINT ``KeyboardInterrupt``, so the run's ``with`` block unwinds and ends the run KILLED. While
the run is being created, and during a store write wrapped in :meth:`RunSignals.held`, a signal is
only noted and raised right after: raised inside a half-made run it would leave the run RUNNING for
ever, and raised inside a SQLite commit it can leave the database locked.

Without :func:`run_signals`, ``start_run`` still ends its run FINISHED, FAILED, or KILLED on
``KeyboardInterrupt``; only a SIGTERM then ends the process with the run RUNNING (Python's
default action).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class RunTerminated(SystemExit):
    """Raised in the main thread on SIGTERM inside :func:`run_signals`.

    A :class:`SystemExit` so that, once the run is marked KILLED, the process exits with the
    conventional status ``128 + SIGTERM`` (143) unless the caller catches it.
    """


def signal_exception(signum: int) -> BaseException:
    """The exception a signal raises: :class:`RunTerminated` for SIGTERM, else Ctrl-C's."""
    if signum == signal.SIGTERM:
        return RunTerminated(128 + signum)
    return KeyboardInterrupt()


class RunSignals:
    """The handlers :func:`run_signals` installed; hold a signal back with :meth:`held`.

    Python-level handlers are used rather than blocking the signals with ``pthread_sigmask``:
    threads that native libraries start at import keep the signals unblocked, and the kernel
    delivers a process signal to any of them, where the default action ends the process.

    An instance made outside the main thread, or with nothing to handle, is inert: :meth:`held`
    then does nothing.
    """

    def __init__(self, *, sigterm: bool = True, then_ignore: bool = False) -> None:
        self._previous: dict[int, Any] = {}
        self._noted: int | None = None
        self._holding = 0
        self._then_ignore = then_ignore
        if threading.current_thread() is not threading.main_thread():
            return
        term, inter = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        if sigterm and term != signal.SIG_IGN:
            self._previous[signal.SIGTERM] = term if term is not None else signal.SIG_DFL
        # SIGINT only when it still raises KeyboardInterrupt: a custom handler is the caller's.
        if inter is signal.default_int_handler:
            self._previous[signal.SIGINT] = inter

    def install(self) -> None:
        """Put the handlers in place (by :func:`run_signals`)."""
        for signum in self._previous:
            signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Put back the handlers found at the start (by :func:`run_signals`)."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._holding and self._noted is None:
            self._noted = signum
            return
        # Raised now. A second signal (during the clean-up, or while one is held: the user
        # insists) behaves as it did before run_signals was entered, or is ignored.
        self._after_first(signum)
        raise signal_exception(signum)

    def _after_first(self, signum: int) -> None:
        if self._then_ignore:
            for handled in self._previous:
                signal.signal(handled, signal.SIG_IGN)
        else:
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def hold(self) -> None:
        """Note signals instead of raising them until :meth:`release`; calls may nest."""
        self._holding += 1

    def release(self, *, raise_noted: bool = True) -> None:
        """End one :meth:`hold`; at the outermost, raise a signal noted meanwhile.

        Args:
            raise_noted: False keeps the noted signal for :meth:`pending` (the caller raises it
                from another exception).
        """
        self._holding = max(0, self._holding - 1)
        if raise_noted and not self._holding:
            noted = self.pending()
            if noted is not None:
                raise noted

    def pending(self) -> BaseException | None:
        """The exception of a signal noted and not raised yet, if any; forgets it."""
        noted, self._noted = self._noted, None
        if noted is None:
            return None
        self._after_first(noted)
        return signal_exception(noted)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Note a signal instead of raising it for the block; raise it right after."""
        self.hold()
        try:
            yield
        finally:
            self.release()


@contextmanager
def run_signals(*, sigterm: bool = True, then_ignore: bool = False) -> Iterator[RunSignals]:
    """Handle SIGTERM and Ctrl-C for the block (main thread only); restore the handlers after.

    Enter it where the process is owned (a command), around :meth:`RunStore.start_run
    <ncaa_eval.tracking.RunStore.start_run>`, and pass the yielded object to it.

    Args:
        sigterm: Also handle SIGTERM (left alone when ignored, ``SIG_IGN``). SIGINT is handled only
            while it has Python's default handler.
        then_ignore: After the first signal, ignore both until the block ends (a worker process
            whose clean-up must finish; its parent kills it if it hangs).
    """
    signals = RunSignals(sigterm=sigterm, then_ignore=then_ignore)
    signals.install()
    try:
        yield signals
    finally:
        signals.restore()
