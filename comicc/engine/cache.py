"""The content-addressed build cache: `<project>/.comicc/`, or the folder `--cache-dir` names.

Layout:
  objects/ab/abcdef...   blobs named by the sha256 of their bytes (verified on read, unless
                         the build's file index saw them intact and unchanged since)
  entries/<stage>/<key>.json   a stage's record: its inputs, outputs (blob hashes) and metadata
  last/<stage-id>.json   the inputs of the last build of each stage instance (for --explain)
  builds.jsonl           which entries each build used (for eviction)
  lock                   held for the duration of a build

Every write goes through `comicc.files.write_atomic`, so an interrupted build leaves either
the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comicc.files import sha256_bytes, sha256_file, stable_json, write_atomic
from comicc.manifest.diagnostics import AuthorError, Diagnostic

if TYPE_CHECKING:
    from comicc.engine.stamp import FileIndex

CACHE_DIR = ".comicc"
FORMAT_VERSION = 1
DEFAULT_KEEP_BUILDS = 8


@dataclass
class Entry:
    """A stage's cached record."""

    stage: str
    key: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)


class CacheCorrupt(Exception):
    """A cache file failed its checksum; the caller rebuilds instead of trusting it."""


class Cache:
    """Content-addressed storage for stage outputs, safe against interruption."""

    def __init__(self, project_root: Path, folder: Path | None = None):
        self.root = folder if folder is not None else project_root / CACHE_DIR
        self.used: set[str] = set()
        self.repaired: list[str] = []
        # Set by a build: blobs checked by an earlier build and unchanged since (same size,
        # times and inode) are not read and hashed again, as git trusts its index.
        self.index: FileIndex | None = None

    # -- blobs -------------------------------------------------------------------
    def _blob_path(self, digest: str) -> Path:
        return self.root / "objects" / digest[:2] / digest

    def put_blob(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        path = self._blob_path(digest)
        # Always (re)write: a same-named file on disk may be a damaged copy nobody has read yet.
        write_atomic(path, data)
        if self.index is not None:
            self.index.record(path, digest)
        self.used.add(f"objects/{digest}")
        return digest

    def get_blob(self, digest: str) -> bytes:
        path = self._blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CacheCorrupt(f"missing object {digest[:12]}") from None
        if not self._trusted(path, digest):
            self._check(path, digest, sha256_bytes(data))
        self.used.add(f"objects/{digest}")
        return data

    def check_blob(self, digest: str) -> None:
        """Raise CacheCorrupt unless the blob is stored intact (read only when the index
        cannot vouch for it)."""
        path = self._blob_path(digest)
        if not self._trusted(path, digest):
            try:
                found = sha256_file(path)
            except FileNotFoundError:
                raise CacheCorrupt(f"missing object {digest[:12]}") from None
            self._check(path, digest, found)
        self.used.add(f"objects/{digest}")

    def _trusted(self, path: Path, digest: str) -> bool:
        return self.index is not None and self.index.trusted(path) == digest

    def _check(self, path: Path, digest: str, found: str) -> None:
        if found != digest:
            path.unlink(missing_ok=True)
            raise CacheCorrupt(f"object {digest[:12]} failed its checksum")
        if self.index is not None:
            self.index.record(path, digest)

    def blob_size(self, digest: str) -> int:
        """The size of a stored blob in bytes (not checked: `get_blob` checks what it reads)."""
        try:
            return self._blob_path(digest).stat().st_size
        except FileNotFoundError:
            raise CacheCorrupt(f"missing object {digest[:12]}") from None

    def blob_file(self, digest: str) -> Path:
        """The path of a verified blob (for linking or copying large outputs without holding
        them; read and hashed only when the index cannot vouch for it)."""
        self.check_blob(digest)
        return self._blob_path(digest)

    # -- entries -----------------------------------------------------------------
    def _entry_path(self, stage: str, key: str) -> Path:
        return self.root / "entries" / stage / f"{key}.json"

    def get(self, stage: str, key: str) -> Entry | None:
        """The entry for (stage, key) if present and intact; damaged entries are dropped."""
        found = self._get(stage, key, keep=False)
        return found[0] if found is not None else None

    def get_with_outputs(self, stage: str, key: str) -> tuple[Entry, dict[str, bytes]] | None:
        """`get`, with the entry's outputs by name: each blob is read (and checked) once.
        For entries with small outputs; `get` holds one output in memory at a time."""
        return self._get(stage, key, keep=True)

    def _get(self, stage: str, key: str, keep: bool) -> tuple[Entry, dict[str, bytes]] | None:
        path = self._entry_path(stage, key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        data: dict[str, bytes] = {}
        try:
            record = json.loads(raw)
            body = record["body"]
            if record.get("sha256") != sha256_bytes(stable_json(body).encode()):
                raise CacheCorrupt("checksum mismatch")
            entry = Entry(stage=stage, key=key, inputs=body["inputs"], outputs=body["outputs"],
                          meta=body.get("meta", {}))
            for name, digest in entry.outputs.items():
                # Each output is checked (a damaged one voids the entry); read if kept.
                if keep:
                    data[name] = self.get_blob(digest)
                else:
                    self.check_blob(digest)
        except (ValueError, KeyError, TypeError, CacheCorrupt):
            path.unlink(missing_ok=True)
            self.repaired.append(f"{stage}/{key[:12]}")
            return None
        self.used.add(f"entries/{stage}/{key}")
        return entry, data

    def put(self, entry: Entry) -> None:
        body = {"inputs": entry.inputs, "outputs": entry.outputs, "meta": entry.meta}
        record = {"format": FORMAT_VERSION, "sha256": sha256_bytes(stable_json(body).encode()),
                  "body": body}
        write_atomic(self._entry_path(entry.stage, entry.key), stable_json(record).encode())
        self.used.add(f"entries/{entry.stage}/{entry.key}")

    def latest(self, stage: str, where: dict[str, str]) -> Entry | None:
        """The most recently written intact entry of `stage` whose inputs match `where`."""
        folder = self.root / "entries" / stage
        if not folder.is_dir():
            return None
        candidates = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for path in candidates:
            entry = self.get(stage, path.stem)
            if entry and all(entry.inputs.get(k) == v for k, v in where.items()):
                return entry
        return None

    # -- explain memory ------------------------------------------------------------
    def last_inputs(self, stage_id: str) -> dict[str, str] | None:
        path = self.root / "last" / f"{stage_id}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def remember_inputs(self, stage_id: str, inputs: dict[str, str]) -> None:
        write_atomic(self.root / "last" / f"{stage_id}.json", stable_json(inputs).encode())

    # -- bookkeeping -------------------------------------------------------------
    def record_build(self, keep_builds: int = DEFAULT_KEEP_BUILDS) -> int:
        """Log what this build used and evict what the last `keep_builds` builds did not use."""
        log = self.root / "builds.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        lines.append(stable_json({"time": time.time(), "used": sorted(self.used)}))
        lines = lines[-max(keep_builds, 1):]
        write_atomic(log, ("\n".join(lines) + "\n").encode())
        keep: set[str] = set()
        for line in lines:
            try:
                keep.update(json.loads(line)["used"])
            except (ValueError, KeyError):
                continue
        return self._evict(keep)

    def _evict(self, keep: set[str]) -> int:
        removed = 0
        for kind in ("entries", "objects"):
            base = self.root / kind
            if not base.is_dir():
                continue
            for path in base.rglob("*"):
                if not path.is_file():
                    continue
                if kind == "objects":
                    name = f"objects/{path.name}"
                else:
                    name = f"entries/{path.parent.name}/{path.stem}"
                if name not in keep and not path.name.endswith(".tmp"):
                    path.unlink()
                    removed += 1
        return removed

    @contextmanager
    def lock(self, timeout: float = 0.0) -> Iterator[None]:
        """Hold the project's build lock; a second build says so clearly instead of interfering."""
        from filelock import FileLock, Timeout

        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / "lock"))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise AuthorError(Diagnostic(
                "error", "another comicc build of this project is running",
                file=self.root / "lock", code="locked",
                hint="wait for it to finish (or stop it), then build again")) from None
        try:
            yield
        finally:
            lock.release()


def clean_cache(project_root: Path, keep_last: int = 0, folder: Path | None = None) -> int:
    """`comicc clean`: remove cache entries, keeping those used by the last `keep_last` builds."""
    cache = Cache(project_root, folder)
    if not cache.root.exists():
        return 0
    with cache.lock(timeout=0):
        if keep_last <= 0:
            count = sum(1 for p in cache.root.rglob("*") if p.is_file() and p.name != "lock")
            for child in cache.root.iterdir():
                if child.name == "lock":
                    continue
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            return count
        log = cache.root / "builds.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines()[-keep_last:] if log.exists() else []
        keep: set[str] = set()
        for line in lines:
            keep.update(json.loads(line).get("used", []))
        return cache._evict(keep)
