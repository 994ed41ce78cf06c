"""``run_signals``: a signal is raised in the code under it, once, whatever Python runs then.

Python runs a signal's handler in whatever Python code runs next; when that is a finalizer (a
weakref callback such as SQLAlchemy's ``InstanceState._cleanup``, a ``__del__``, an object of a
cycle freed by the garbage collector), the exception it raises is printed ("Exception ignored
in ...") and dropped. Each finalizer here sends the signal to its own process with
``signal.raise_signal``, which runs the handler before returning: the handler raises inside the
finalizer every time, no timing involved. Also: ``held`` and ``let_through``, and a second
signal under ``then_ignore``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ncaa_eval.tracking import RunTerminated, run_signals

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: argv: the finalizer kind. For each signal and each ``then_ignore``, the signal is sent from a
#: finalizer inside ``run_signals``; prints what reached the code in the block and the handler
#: the signal has while the exception unwinds.
_SIGNAL_IN_A_FINALIZER = """
import gc, signal, sys, weakref
from ncaa_eval.tracking import RunTerminated, run_signals

kind = sys.argv[1]
sent = []


def send():
    sent.append(1)
    signal.raise_signal(SIG)
    print("the finalizer went on", flush=True)  # the handler raised: never printed


class WithDel:
    def __del__(self):
        send()


class Plain:
    pass


def handler_name(signum):
    handler = signal.getsignal(signum)
    return getattr(handler, "name", None) or getattr(handler, "__name__", str(handler))


for SIG in (signal.SIGINT, signal.SIGTERM):
    for then_ignore in (False, True):
        sent.clear()
        outcome = "nothing"
        try:
            with run_signals(then_ignore=then_ignore):
                try:
                    if kind == "weakref-callback":
                        obj = Plain()
                        ref = weakref.ref(obj, lambda _: send())
                        del obj
                    elif kind == "weakref-finalize":
                        obj = Plain()
                        weakref.finalize(obj, send)
                        del obj
                    elif kind == "del":
                        obj = WithDel()
                        del obj
                    else:  # an unreachable cycle, freed by the garbage collector
                        a, b = Plain(), Plain()
                        a.other, b.other = b, a
                        weakref.finalize(a, send)
                        del a, b
                        gc.collect()
                    for _ in range(1000):
                        pass
                    outcome = "the code went on"
                except (KeyboardInterrupt, RunTerminated) as exc:
                    outcome = type(exc).__name__ + " then " + handler_name(SIG)
                    raise
        except (KeyboardInterrupt, RunTerminated):
            pass
        assert sent == [1], sent
        print(f"{signal.Signals(SIG).name} then_ignore={then_ignore}: {outcome}", flush=True)

assert sys.unraisablehook is sys.__unraisablehook__
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
print("restored", flush=True)
"""

#: Each run: the exception, then the handler in place after the first signal (the one found
#: before ``run_signals``, or SIG_IGN with ``then_ignore``).
_EXPECTED = [
    "SIGINT then_ignore=False: KeyboardInterrupt then default_int_handler",
    "SIGINT then_ignore=True: KeyboardInterrupt then SIG_IGN",
    "SIGTERM then_ignore=False: RunTerminated then SIG_DFL",
    "SIGTERM then_ignore=True: RunTerminated then SIG_IGN",
    "restored",
]


def _python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_default_signals,
    )


def _default_signals() -> None:
    """In the child: SIGINT and SIGTERM as on a terminal, even if this runner ignores them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize(
    "kind", ["weakref-callback", "weakref-finalize", "del", "garbage-collected-cycle"]
)
def test_a_signal_handled_inside_a_finalizer_reaches_the_code(kind: str) -> None:
    done = _python(_SIGNAL_IN_A_FINALIZER, kind)
    assert done.returncode == 0, done.stdout + done.stderr
    # Not printed as "Exception ignored in ...", and not lost: raised in the block.
    assert done.stderr == ""
    assert done.stdout.splitlines() == _EXPECTED


#: Outside the signals: a finalizer's own error is still printed as Python prints it.
_OTHER_ERROR_IN_A_FINALIZER = """
import weakref
from ncaa_eval.tracking import run_signals


class Plain:
    pass


def fail(_):
    raise ValueError("the finalizer's own error")


with run_signals():
    obj = Plain()
    ref = weakref.ref(obj, fail)
    del obj
    print("the code went on", flush=True)
"""


def test_other_errors_in_finalizers_are_still_printed() -> None:
    done = _python(_OTHER_ERROR_IN_A_FINALIZER)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "the code went on\n"
    assert "Exception ignored in" in done.stderr
    assert "ValueError: the finalizer's own error" in done.stderr


#: A finalizer's own error is printed, and a Ctrl-C comes while it is: the handler runs inside
#: the unraisable hook (under ``sys.stderr.write``), where raising would lose it too.
_SIGNAL_WHILE_AN_ERROR_IS_PRINTED = """
import signal, sys, weakref
from ncaa_eval.tracking import run_signals


class SignalOnFirstWrite:
    def __init__(self, stream):
        self.stream, self.sent = stream, False

    def write(self, text):
        if not self.sent:
            self.sent = True
            signal.raise_signal(signal.SIGINT)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


class Plain:
    pass


def fail(_):
    raise ValueError("the finalizer's own error")


try:
    with run_signals():
        obj = Plain()
        ref = weakref.ref(obj, fail)
        sys.stderr = SignalOnFirstWrite(sys.__stderr__)
        del obj
        for _ in range(1000):
            pass
        print("the code went on", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
"""


def test_a_signal_while_a_finalizer_error_is_printed_reaches_the_code() -> None:
    done = _python(_SIGNAL_WHILE_AN_ERROR_IS_PRINTED)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "KeyboardInterrupt\n", done.stderr
    assert "ValueError: the finalizer's own error" in done.stderr
    assert "KeyboardInterrupt" not in done.stderr


#: ``then_ignore``: SIGINT and SIGTERM both pending when Python looks (the process was in a long C
#: call): the first is raised, the second finds SIG_IGN, which Python reports as "Signal 15
#: ignored due to race condition" with a traceback unless told it is meant.
_TWO_SIGNALS_AT_ONCE = """
import os, signal
from ncaa_eval.tracking import run_signals

both = {signal.SIGINT, signal.SIGTERM}
try:
    with run_signals(then_ignore=True):
        signal.pthread_sigmask(signal.SIG_BLOCK, both)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, both)
except KeyboardInterrupt:
    for _ in range(1000):
        pass
    print("KeyboardInterrupt", flush=True)
"""


def test_a_second_signal_ignored_with_the_first_is_not_reported() -> None:
    done = _python(_TWO_SIGNALS_AT_ONCE)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "KeyboardInterrupt\n", done.stderr
    assert done.stderr == ""


@pytest.fixture
def terminal_signals() -> Iterator[None]:
    """SIGINT and SIGTERM as on a terminal for the test, even if this runner ignores them (a
    runner started in the background ignores SIGINT)."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGINT, before[0])
    signal.signal(signal.SIGTERM, before[1])


@pytest.mark.usefixtures("terminal_signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_let_through_raises_a_signal_held_before_it(signum: int) -> None:
    def held_then_let_through() -> None:
        with run_signals() as signals, signals.held():
            signal.raise_signal(signum)  # noted
            with signals.let_through():
                pytest.fail("the noted signal is raised as the block starts")

    with pytest.raises(RunTerminated if signum == signal.SIGTERM else KeyboardInterrupt):
        held_then_let_through()


@pytest.mark.usefixtures("terminal_signals")
def test_let_through_raises_a_signal_at_once_inside_a_held_block() -> None:
    reached: list[str] = []

    def let_through_inside_held() -> None:
        with run_signals() as signals, signals.held(), signals.let_through():
            signal.raise_signal(signal.SIGINT)
            reached.append("after the signal")

    with pytest.raises(KeyboardInterrupt):
        let_through_inside_held()
    assert reached == []


@pytest.mark.usefixtures("terminal_signals")
def test_after_let_through_signals_are_held_again() -> None:
    reached: list[str] = []

    def held_after_let_through() -> None:
        with run_signals() as signals, signals.held():
            with signals.let_through():
                pass
            signal.raise_signal(signal.SIGTERM)
            reached.append("after the signal")

    with pytest.raises(RunTerminated):
        held_after_let_through()
    assert reached == ["after the signal"]


@pytest.mark.usefixtures("terminal_signals")
def test_then_ignore_ignores_a_second_signal_while_the_first_is_held() -> None:
    reached: list[str] = []

    def two_signals_while_held() -> None:
        with run_signals(then_ignore=True) as signals:
            with signals.held():
                signal.raise_signal(signal.SIGINT)  # noted
                signal.raise_signal(signal.SIGTERM)  # ignored: stopping for the first already
                reached.append("held")
            reached.append("after the hold")

    with pytest.raises(KeyboardInterrupt):
        two_signals_while_held()
    assert reached == ["held"]


class _DtypeSendsTheSignal:
    """NumPy, comparing a dtype to this, reads its ``dtype`` and discards any error raised."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    @property
    def dtype(self) -> str:
        signal.raise_signal(self.signum)  # the handler raises here
        return "f8"


@pytest.mark.usefixtures("terminal_signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_whose_exception_c_code_discarded_is_raised_at_the_next_hold(
    signum: int,
) -> None:
    import numpy as np

    reached: list[str] = []

    def swallowed_then_held() -> None:
        with run_signals(then_ignore=True) as signals:
            assert np.dtype("O") != _DtypeSendsTheSignal(signum)  # raised and discarded
            reached.append("went on")
            with signals.held():
                reached.append("held")

    with pytest.raises(RunTerminated if signum == signal.SIGTERM else KeyboardInterrupt):
        swallowed_then_held()
    assert reached == ["went on"]


@pytest.mark.usefixtures("terminal_signals")
def test_a_signal_being_handled_is_not_raised_again_by_a_hold() -> None:
    # The clean-up of an interrupted run writes under a hold while the exception propagates.
    cleaned: list[str] = []

    def interrupted_then_cleaned() -> None:
        with run_signals() as signals:
            try:
                signal.raise_signal(signal.SIGINT)
            finally:
                with signals.held():
                    cleaned.append("written")

    with pytest.raises(KeyboardInterrupt):
        interrupted_then_cleaned()
    assert cleaned == ["written"]
