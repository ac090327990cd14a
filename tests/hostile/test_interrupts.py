"""The book's replacement and its record are one step: a Ctrl-C between them cannot make
the message say the old book stands when the new one does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from comicc.files import link_atomic
from comicc.interrupts import MESSAGE, committing, message, stop_promptly


@pytest.fixture(autouse=True)
def _sigint_default() -> Iterator[None]:
    """Ctrl-C as an author's terminal sends it. A shell starts background jobs with SIGINT
    ignored, and `stop_promptly` leaves an ignored SIGINT ignored (as `nohup comicc` asks):
    these tests are about comicc, not about how the test run itself was started."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _signal_then_wait() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs at a bytecode in here


def test_a_signal_while_the_book_is_replaced_is_raised_once_it_is_recorded(tmp_path: Path) -> None:
    book, new = tmp_path / "book.pdf", tmp_path / "new.pdf"
    book.write_bytes(b"old")
    new.write_bytes(b"new")
    with pytest.raises(KeyboardInterrupt), stop_promptly():
        with committing(book):
            _signal_then_wait()  # held: the replacement goes on
            link_atomic(new, book)
        pytest.fail("the held signal was not raised as the commit ended")
    assert book.read_bytes() == b"new"
    assert message() != MESSAGE and str(book) in message()


def test_a_signal_outside_the_commit_stops_at_once_and_the_old_book_stands(tmp_path: Path) -> None:
    book, new = tmp_path / "book.pdf", tmp_path / "new.pdf"
    book.write_bytes(b"old")
    new.write_bytes(b"new")
    with pytest.raises(KeyboardInterrupt), stop_promptly():
        _signal_then_wait()
        with committing(book):
            link_atomic(new, book)
    assert book.read_bytes() == b"old"
    assert message() == MESSAGE


HARD_STOP_IN_THE_COMMIT = """
import os, signal, sys, time
from pathlib import Path
from comicc.files import link_atomic
from comicc.interrupts import committing, stop_promptly

book, new = Path(sys.argv[1]), Path(sys.argv[2])
try:
    with stop_promptly(), committing(book):
        os.kill(os.getpid(), signal.SIGTERM)  # held: the replacement goes on
        link_atomic(new, book)
        time.sleep(2.0)  # the rename done, its record not yet: stretched past the grace
except KeyboardInterrupt:
    time.sleep(5.0)  # the watchdog, armed before the block ended, stops the process
sys.exit(3)
"""


def test_the_watchdog_waits_for_the_commit_so_its_message_names_the_new_book(tmp_path: Path) -> None:
    """A hard stop GRACE_SECONDS after the signal must not fall between the book's rename and
    its record, or exit 130 would say the old book stands when the new one does."""
    book, new = tmp_path / "book.pdf", tmp_path / "new.pdf"
    book.write_bytes(b"old")
    new.write_bytes(b"new")
    done = subprocess.run([sys.executable, "-c", HARD_STOP_IN_THE_COMMIT, str(book), str(new)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert book.read_bytes() == b"new"
    assert f"interrupted after writing {book}" in done.stderr
