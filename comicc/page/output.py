"""Writing output files atomically: a finished file or the old one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from comicc.interrupts import temporary


def _default_mode() -> int:
    # mkstemp creates 0600 files; a book should get the permissions any new file would.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_output(out: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside `out`; on success it replaces `out`, on failure it is removed.

    Any exception inside the block (or Ctrl-C) leaves an existing `out` untouched.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    temp = Path(temp_name)
    with temporary(temp):
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, _default_mode())
            os.replace(temp, out)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
