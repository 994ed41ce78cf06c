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

Python runs a signal's handler in whatever Python code runs next, which can be a finalizer: a
weakref callback (SQLAlchemy's ``InstanceState._cleanup`` runs whenever an ORM object dies), a
``__del__`` or a generator closed by the garbage collector. Python prints an exception raised
there ("Exception ignored in ...") and drops it, so the signal would be lost. Inside
:func:`run_signals`, ``sys.unraisablehook`` recognises that exception, prints nothing, and
delivers the signal again as the finalizer's caller resumes. C code can also discard it without
a word (NumPy comparing a dtype to an object clears any error raised meanwhile): the next
:meth:`RunSignals.hold` finds the exception neither handled nor on its way up, and raises it again.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from collections.abc import Callable, Iterator
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


def _signal_of(exc: BaseException) -> int:
    """The signal whose exception (:func:`signal_exception`) ``exc`` is."""
    return signal.SIGTERM if isinstance(exc, RunTerminated) else signal.SIGINT


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
        #: The exception :meth:`_handle` raised last: known again if a finalizer swallows it.
        self._raised: BaseException | None = None
        #: A signal to deliver again when :meth:`_unraisable` returns.
        self._lost: int | None = None
        self._previous_hook: Callable[[sys.UnraisableHookArgs], Any] | None = None
        if threading.current_thread() is not threading.main_thread():
            return
        term, inter = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        if sigterm and term != signal.SIG_IGN:
            self._previous[signal.SIGTERM] = term if term is not None else signal.SIG_DFL
        # SIGINT only when it still raises KeyboardInterrupt: a custom handler is the caller's.
        if inter is signal.default_int_handler:
            self._previous[signal.SIGINT] = inter

    def install(self) -> None:
        """Put the handlers and the unraisable hook in place (by :func:`run_signals`)."""
        self._arm()
        if self._previous and self._previous_hook is None:
            self._previous_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable

    def _arm(self) -> None:
        for signum in self._previous:
            signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Put back the handlers and the hook found at the start (by :func:`run_signals`)."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}
        if self._previous_hook is not None:
            if sys.unraisablehook == self._unraisable:
                sys.unraisablehook = self._previous_hook
            self._previous_hook = None
        self._raised = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._holding and self._noted is None:
            self._noted = signum
            return
        if self._holding and self._then_ignore:
            return  # a second one while the first is held: ignored, as after the first
        if _inside_unraisable_hook(frame):
            # Raised here it would be lost as in a finalizer: the hook delivers it again.
            self._lost = signum
            return
        # Raised now. A second signal (during the clean-up, or while one is held: the user
        # insists) behaves as it did before run_signals was entered, or is ignored.
        self._after_first(signum)
        self._raised = signal_exception(signum)
        raise self._raised

    def _unraisable(self, unraisable: sys.UnraisableHookArgs) -> None:
        """``sys.unraisablehook`` inside the block: the exception of a signal, raised in a
        finalizer, is not printed and the signal is delivered again; others are printed as
        before."""
        exc = unraisable.exc_value
        if exc is not None and exc is self._raised:
            self._raised = None
            self._lost = _signal_of(exc)
            self._arm()  # undo _after_first: the signal never got through
        elif self._ignored_late(exc):
            pass
        elif self._previous_hook is not None:
            self._previous_hook(unraisable)
        # Deliver it again: interrupt_main trips the signal as if it came now. The unpacking
        # calls it from C as this frame's very last step: Python runs a pending handler at
        # calls, function starts and loop jumps (not at unpacking or return), so tripped by a
        # call here the handler would run inside this hook. It runs at the first such check
        # after the code the finalizer interrupted resumes.
        trips = {s: map(_thread.interrupt_main, (signal.Signals(s),)) for s in self._previous}
        lost, self._lost = self._lost, None
        if lost in trips:
            (_,) = trips[lost]

    def _ignored_late(self, exc: BaseException | None) -> bool:
        """Whether ``exc`` is Python's note that a signal arrived with the first (both pending
        at once) and found the handler gone: ignored after the first, as it is meant to be."""
        return isinstance(exc, OSError) and any(
            str(exc) == f"Signal {signum} ignored due to race condition"
            and signal.getsignal(signum) == signal.SIG_IGN
            for signum in self._previous
        )

    def _after_first(self, signum: int) -> None:
        if self._then_ignore:
            for handled in self._previous:
                signal.signal(handled, signal.SIG_IGN)
        else:
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def hold(self) -> None:
        """Note signals instead of raising them until :meth:`release`; calls may nest.

        A signal raised earlier whose exception some code discarded is raised again here.
        """
        self._raise_swallowed()
        self._holding += 1

    def _raise_swallowed(self) -> None:
        """Raise again a signal whose exception vanished: raised in Python code that C code
        called and then cleared the error (NumPy's dtype comparison drops whatever a ``dtype``
        property raises), it never reached the code in the block, which went on."""
        raised = self._raised
        if raised is None or _in_flight(raised):
            return
        if threading.current_thread() is not threading.main_thread():
            return
        self._raised = signal_exception(_signal_of(raised))
        raise self._raised

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
    def let_through(self) -> Iterator[None]:
        """Inside :meth:`held` blocks: raise a signal noted so far, and let signals be raised at
        once for the block (long work between writes); they are held again after it."""
        self._raise_swallowed()
        holding, self._holding = self._holding, 0
        try:
            noted = self.pending()
            if noted is not None:
                raise noted
            yield
        finally:
            self._holding = holding


_UNRAISABLE_HOOK = RunSignals._unraisable.__code__


def _in_flight(exc: BaseException) -> bool:
    """Whether ``exc`` is being handled or propagated, or caused the exception that is."""
    current = sys.exc_info()[1]
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        if current is exc:
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _inside_unraisable_hook(frame: FrameType | None) -> bool:
    """Whether ``frame`` is :meth:`RunSignals._unraisable` or runs under it."""
    while frame is not None:
        if frame.f_code is _UNRAISABLE_HOOK:
            return True
        frame = frame.f_back
    return False


@contextmanager
def run_signals(*, sigterm: bool = True, then_ignore: bool = False) -> Iterator[RunSignals]:
    """Handle SIGTERM and Ctrl-C for the block (main thread only); restore the handlers after.

    Enter it where the process is owned (a command), around :meth:`RunStore.start_run
    <ncaa_eval.tracking.RunStore.start_run>`, and pass the yielded object to it.

    Args:
        sigterm: Also handle SIGTERM (left alone when ignored, ``SIG_IGN``). SIGINT is handled only
            while it has Python's default handler.
        then_ignore: After the first signal, ignore both until the block ends, also while the
            first is held (a worker process whose clean-up must finish; its parent kills it if
            it hangs).
    """
    signals = RunSignals(sigterm=sigterm, then_ignore=then_ignore)
    signals.install()
    try:
        yield signals
    finally:
        signals.restore()
