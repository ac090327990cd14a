"""Bytes in and out: the one content hash comicc uses, and atomic writes.

Every file comicc writes (the book, the report, the cache's blobs and records) goes to a
temporary file in the same folder and is renamed into place, so an interrupted write
leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from comicc.interrupts import temporary


def sha256_bytes(data: bytes) -> str:
    """The one hash comicc uses for contents and keys."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """`sha256_bytes` of a file's contents, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stable_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace noise: the canonical form that gets hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """The hash of any JSON-able value (a manifest slice, options) in canonical form."""
    return sha256_bytes(stable_json(value).encode())


@contextmanager
def atomic_output(out: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside `out`; on success it replaces `out`, on failure it is removed.

    Any exception inside the block (or Ctrl-C) leaves an existing `out` untouched. The file
    gets the permissions any new file would (0666 less the umask).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    # Name first, open inside the try: a signal at any moment leaves no stray temporary.
    temp = out.parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
    with temporary(temp):  # a hard stop (comicc.interrupts) removes it too
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, out)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise


def link_atomic(source: Path, out: Path) -> None:
    """Put `source`'s contents at `out` atomically, as a hard link where the file system
    allows (a long book is then not written twice), else as a copy streamed through
    `atomic_output`. Files comicc writes are always replaced, never changed in place, so a
    link is never written through; one changed in place by another program fails the
    cache's checksum and is rebuilt."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
    with temporary(temp):
        try:
            os.link(source, temp)
            os.replace(temp, out)
            return
        except OSError:
            temp.unlink(missing_ok=True)
    with atomic_output(out) as handle, open(source, "rb") as data:
        shutil.copyfileobj(data, handle, 1 << 20)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through `atomic_output`; never leaves a partial file."""
    with atomic_output(path) as handle:
        handle.write(data)
