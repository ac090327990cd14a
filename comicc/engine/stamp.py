"""The stat fast path: a build with nothing changed answers in milliseconds, as make does.

Like git's index, comicc records each file it read or wrote with its size, mtime, ctime
and inode. Two records live in the cache folder:

  index.json           every input file's stat and sha256: a file whose stat is unchanged
                       is not read again to hash it (FileIndex)
  stamps/<request>.json  per command (flags, folder, output, working directory): the stat
                       of every file the last successful build read (manifest, art,
                       templates, comicc's own code) and wrote (book, report, cache
                       entries), and what it printed (BuildStamp)

`replay` answers a build whose stamp still matches every file, without loading the
manifest, pydantic or any stage: it prints what a full build would print then (each stage
"reused", the same warnings). Anything else — a file touched, a flag changed, the cache
cleaned, a lock held — takes the full path, which decides by content and writes a new stamp.

A file modified less than RACY_NS before the build started is not trusted by its stat (a
second edit within the file system's timestamp tick could keep it): no stamp is written
and its hash is not indexed, so the next build reads it again ("racily clean", in git).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from comicc.engine.request import BuildRequest
from comicc.files import sha256_file, stable_json, write_atomic

FORMAT = 1
RACY_NS = 2_000_000_000  # FAT and HFS+ keep mtimes to 1-2 s
PACKAGE = Path(__file__).resolve().parents[1]  # comicc's own code, templates and fonts

Stat = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def stat_of(path: Path) -> Stat | None:
    """The stat a file is recognised by, None when it is missing."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def _settled(stat: Stat | None, since_ns: int) -> bool:
    """Whether a stat can stand for the content: not modified within RACY_NS of `since_ns`."""
    return stat is None or stat[1] < since_ns - RACY_NS


class FileIndex:
    """sha256 of files by path, re-hashed only when their stat changes (git's index)."""

    def __init__(self, cache_folder: Path | None):
        """`cache_folder` None: an index for this process only."""
        self.path = cache_folder / "index.json" if cache_folder is not None else None
        self.started_ns = time.time_ns()
        self.known: dict[str, list] = {}
        if self.path is not None:
            try:
                self.known = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass
        self.seen: dict[str, list] = {}

    def sha256(self, path: Path) -> str:
        digest = self.trusted(path)
        if digest is None:
            digest = sha256_file(path)
            self.record(path, digest)
        return digest

    def trusted(self, path: Path) -> str | None:
        """The sha256 recorded for `path` if its stat has not changed since (None if it has,
        or the file is missing or was never hashed)."""
        key = str(path.resolve())
        if key in self.seen:
            return self.seen[key][4]
        stat = stat_of(path)
        record = self.known.get(key)
        if stat is not None and isinstance(record, list) and len(record) == 5 \
                and tuple(record[:4]) == stat:
            self.seen[key] = record
            return record[4]
        return None

    def record(self, path: Path, digest: str) -> None:
        """Note that `path` (as it is now) holds content with this sha256."""
        stat = stat_of(path)
        self.seen[str(path.resolve())] = [*(stat or (-1, -1, -1, -1)), digest]

    def save(self) -> None:
        """Keep the hashes of settled files (a racy one is hashed again next time)."""
        settled = {k: v for k, v in self.seen.items() if _settled(tuple(v[:4]), self.started_ns)}
        if self.path is not None and settled != self.known:
            write_atomic(self.path, stable_json(settled).encode())


@dataclass
class BuildStamp:
    """What one successful build read, wrote and printed (see the module's docstring)."""

    read: dict[str, Stat | None]
    wrote: dict[str, Stat | None]
    notes: list[str]  # lines said on stderr whatever ran (the backend, style notes)
    diagnostics: list[str]  # rendered warnings
    stages: list[tuple[str, str]]  # (stage, instance) in build order
    output: str
    report: str | None


def stamp_path(cache_folder: Path, request: BuildRequest, manifest: Path) -> Path:
    """Where the stamp of this command lives: one per flags, folder, output and directory."""
    from comicc.files import digest

    identity = {
        "manifest": str(manifest.resolve()), "cwd": os.getcwd(),
        "output": str(request.output) if request.output else None,
        "options": {name: str(value) for name, value in request.options().items()},
        "epoch": os.environ.get("SOURCE_DATE_EPOCH"), "python": sys.executable,
    }
    return cache_folder / "stamps" / f"{digest(identity)}.json"


def code_files() -> list[Path]:
    """comicc's own files and folders: an edited or added one invalidates every stamp."""
    found = []
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found.append(Path(folder))
        found += [Path(folder) / name for name in sorted(files) if not name.endswith(".pyc")]
    return found


def write_stamp(path: Path, stamp: BuildStamp, started_ns: int) -> None:
    """Record a finished build; a racy input means no stamp (the next build checks content)."""
    if not all(_settled(stat, started_ns) for stat in stamp.read.values()):
        path.unlink(missing_ok=True)
        return
    record = {"format": FORMAT, **stamp.__dict__}
    write_atomic(path, stable_json(record).encode())


def stats(paths: Iterable[Path]) -> dict[str, Stat | None]:
    return {str(p.resolve()): stat_of(p) for p in paths}


def replay(request: BuildRequest) -> int | None:
    """Answer a build with nothing changed from its stamp: 0, or None to build in full."""
    if request.distributed or "WORLD_SIZE" in os.environ:
        return None
    started = time.perf_counter()
    from comicc.engine.cache import Cache
    from comicc.manifest.diagnostics import AuthorError
    from comicc.manifest.load import find_manifest

    try:
        manifest = find_manifest(request.path)
    except AuthorError:
        return None  # the full path reports it
    cache = Cache(manifest.resolve().parent, request.cache_dir)
    stamp = _read_stamp(stamp_path(cache.root, request, manifest))
    if stamp is None:
        return None
    with _unlocked(cache.root / "lock") as free:
        # A build running now may be changing what we compare: the full path waits for it.
        if not free or not _unchanged({**stamp.read, **stamp.wrote}):
            return None
        _print(request, stamp, time.perf_counter() - started)
    return 0


@contextmanager
def _unlocked(lock: Path) -> Iterator[bool]:
    """Hold the cache's lock if no build holds it: the flock filelock takes (Cache.lock),
    without the 30 ms its import costs. False where flock is not available."""
    try:
        import fcntl
    except ImportError:
        yield False
        return
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)  # closing the file releases the lock


def _read_stamp(path: Path) -> BuildStamp | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.pop("format") != FORMAT:
            return None
        record["stages"] = [tuple(s) for s in record["stages"]]
        return BuildStamp(**record)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _unchanged(recorded: dict[str, Sequence[int] | None]) -> bool:
    for name, stat in recorded.items():
        now = stat_of(Path(name))
        if (now is None) != (stat is None) or (now is not None and list(now) != list(stat)):
            return False
    return True


def _print(request: BuildRequest, stamp: BuildStamp, seconds: float) -> None:
    from comicc.engine.engine import StageReport

    for line in ([] if request.quiet else stamp.notes) + stamp.diagnostics:
        print(line, file=sys.stderr)
    if request.explain:
        for stage, instance in stamp.stages:
            print(StageReport(stage, instance, "reused").line())
    reused = len(stamp.stages)
    print(f"wrote {stamp.output} in {seconds:.1f}s (0 stage(s) ran, {reused} reused)")
    if stamp.report is not None:
        print(f"report: {stamp.report}")

