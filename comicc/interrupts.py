"""Ctrl-C and SIGTERM stop a build within two seconds, at any moment, leaving the cache whole.

Python turns SIGINT into KeyboardInterrupt at the main thread's next bytecode, and comicc's
writes are atomic, so unwinding keeps the cache consistent. Three gaps remain, closed here:

- The exception can be raised inside a weakref callback, a `__del__` or a finaliser (an
  import runs many: importlib's module-lock callbacks), where Python prints "Exception
  ignored" and carries on: the interrupt is lost and the build runs to its end. The
  unraisable hook sees it and raises it again at the next bytecode outside the callback.
- An interrupt raised while an extension module initialises can abort the process: torch's
  C++ start calls back into Python, and an exception there ends in std::terminate (exit
  134). An import writes nothing: inside one, the handler ends the process at once.
- The main thread can be inside one long call that does not return to bytecode in time
  (a big library load or tensor operation on a busy machine). A watchdog thread, woken by
  the signal itself through `signal.set_wakeup_fd`, ends the process with exit 130 when it
  is still running GRACE_SECONDS after the signal, first removing the temporary files in
  flight (the cache's renames are atomic, so what is left is whole).

The book's atomic rename is the build's commit point. A signal after it (while the report
and the index are written) still stops the build, but the message then says the output is
the new book (`wrote`), so exit 130 never hides that the output changed. The rename and
that record are one step (`committing`): a signal between them is held and raised just
after, or the message could say the old book stands when the new one does. The watchdog
waits for that step too (up to COMMIT_WAIT_SECONDS), so a hard stop cannot fall between
the rename and its record either.

A process started with SIGINT ignored (a shell's `cmd &` without job control) keeps
ignoring it, as every program should; SIGTERM always stops a build.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

# After the signal, how long unwinding may take before the watchdog ends the process.
GRACE_SECONDS = 1.0
# How long the watchdog waits for a commit in progress (a book copied where it cannot be
# linked) before it stops anyway; the old book then still stands.
COMMIT_WAIT_SECONDS = 30.0
EXIT_INTERRUPTED = 130
MESSAGE = "comicc: interrupted; the cache is consistent, rerun to resume"

_in_flight: set[Path] = set()  # temporary files and folders being written now
_written: dict[Path, None] = {}  # outputs already replaced by this build (see `wrote`)
_last_signal = signal.SIGINT
_committing = 0  # > 0 inside `committing`: a signal is held, not raised
_held = False  # a signal came while committing
_commit_lock = threading.RLock()  # held by `committing`, taken by the watchdog to stop


@contextmanager
def temporary(path: Path) -> Iterator[Path]:
    """Mark `path` (a file or folder) as a temporary that a hard stop must remove."""
    _in_flight.add(path)
    try:
        yield path
    finally:
        _in_flight.discard(path)


def wrote(path: Path) -> None:
    """Record that `path`, an output the author asked for, now holds this build's result."""
    _written[path] = None


@contextmanager
def committing(path: Path) -> Iterator[None]:
    """Replace the output `path` inside this block: the replacement and its record (`wrote`)
    are one step. A signal that comes inside is held and raised as the block ends, after
    the record, so the message names `path` whenever it holds the new result."""
    global _committing, _held
    with _commit_lock:  # the watchdog's hard stop waits for it
        _committing += 1
        try:
            yield
            wrote(path)
        finally:
            _committing -= 1
            if not _committing and _held:
                _held = False
                raise KeyboardInterrupt


def message() -> str:
    """What an interrupted build says: nothing lost, and whether its output was written."""
    if not _written:
        return MESSAGE
    names = ", ".join(str(path) for path in _written)
    return (f"comicc: interrupted after writing {names}; the cache is consistent, "
            "rerun to finish the rest")


def say_interrupted() -> None:
    """Tell the author the build stopped and nothing is lost."""
    print(message(), file=sys.stderr, flush=True)


def exit_now(code: int) -> None:
    """End the program with `code`, its work done (written, or stopped and consistent).

    A signal from here on has nothing left to stop: it is blocked, so a Ctrl-C as the
    process exits cannot turn a finished build into a traceback or a death by signal. A
    process that loaded torch skips the interpreter's teardown (seconds on a busy machine).
    """
    try:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        _flush()
    except KeyboardInterrupt:  # the one already on its way as they were blocked
        _flush()
    if code == EXIT_INTERRUPTED or "torch" in sys.modules:
        os._exit(code)
    sys.exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


@contextmanager
def stop_promptly() -> Iterator[None]:
    """Within this block SIGINT and SIGTERM raise KeyboardInterrupt however they arrive, and
    the process ends within GRACE_SECONDS of the signal even when unwinding cannot run.

    Outside the main thread (where signals cannot be handled) it does nothing.
    """
    global _held
    _written.clear()
    _held = False
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signals.append(signal.SIGINT)
    previous = {signum: signal.signal(signum, _raise_interrupt) for signum in signals}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _raise_again(previous_hook)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    disarmed = threading.Event()
    watchdog = threading.Thread(target=_watch, args=(read_end, {int(s) for s in signals}, disarmed),
                                name="comicc-interrupt-watchdog", daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        disarmed.set()
        signal.set_wakeup_fd(previous_fd)
        os.close(write_end)  # the watchdog reads end-of-file and returns
        sys.unraisablehook = previous_hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    global _last_signal, _held
    _last_signal = signal.Signals(signum)
    if _committing:  # an output is being replaced: raised as soon as it is recorded
        _held = True
        return
    if _inside_import(frame):
        # An extension's initialiser (torch's c10d) can call into Python from C++ code that
        # aborts the whole process when an exception passes through it. An import writes
        # nothing, so stopping here at once is as safe as unwinding.
        _hard_stop()
    raise KeyboardInterrupt


def _inside_import(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _interrupt_main(signum: int) -> None:
    import _thread

    _thread.interrupt_main(signum)  # runs the handler again at the main thread's next bytecode


def _raise_again(previous_hook: Any) -> Any:
    def hook(unraisable: Any) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            _interrupt_main(_last_signal)  # outside the callback, this time
            return
        previous_hook(unraisable)

    return hook


def _watch(read_end: int, stopping: set[int], disarmed: threading.Event) -> None:
    """The watchdog: wait for a stopping signal, give unwinding its grace, then stop hard."""
    try:
        while True:
            data = os.read(read_end, 64)  # the numbers of the signals received
            if not data or stopping.intersection(data):
                break
        # A block that ends in time (the exception reached the command line) disarms it.
        if not disarmed.wait(GRACE_SECONDS):
            # Not between a rename and its record: the message must name what was written.
            _commit_lock.acquire(timeout=COMMIT_WAIT_SECONDS)
            _hard_stop()
    finally:
        os.close(read_end)


def _hard_stop() -> None:
    for path in list(_in_flight):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    os.write(2, (message() + "\n").encode())  # not through sys.stderr: it may be mid-write
    os._exit(EXIT_INTERRUPTED)
