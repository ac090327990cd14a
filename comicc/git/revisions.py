"""Finding a comic's git repository and exporting one revision of the comic's folder.

Only plain `git` plumbing commands are run, inside the project's repository; the author's
working tree, index and refs are never touched. The comic may be any subfolder of the repo.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from comicc.manifest.diagnostics import AuthorError, Diagnostic
from comicc.manifest.load import MANIFEST_NAME

WORKTREE = "working tree"


@dataclass(frozen=True)
class Repo:
    """The git repository holding a comic: its top folder and the comic's path inside it."""

    top: Path
    prefix: str  # the comic's folder relative to `top`, "" or ending in "/"


@dataclass(frozen=True)
class Revision:
    """A revision the author named, resolved to a commit (None for the working tree)."""

    name: str
    commit: str | None

    @property
    def label(self) -> str:
        """How a picture or message names this side: `HEAD~1 (3f2a9c1)` or `working tree`."""
        if self.commit is None:
            return WORKTREE
        return f"{self.name} ({self.commit[:7]})"


def _git(repo_dir: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=repo_dir, capture_output=True,
                              text=not binary, check=False)
    except FileNotFoundError:
        raise AuthorError(Diagnostic("error", "git is not installed", code="git",
                                     hint="install git to compare revisions of a comic")) from None


def find_repo(project_root: Path) -> Repo:
    """The repository holding `project_root`; AuthorError when it is not in one."""
    top = _git(project_root, "rev-parse", "--show-toplevel")
    prefix = _git(project_root, "rev-parse", "--show-prefix")
    if top.returncode != 0 or prefix.returncode != 0:
        raise AuthorError(Diagnostic(
            "error", "this comic is not in a git repository", file=project_root, code="git",
            hint="`comicc diff` compares revisions kept in git; put the comic's folder under "
                 "version control first (git init, git add, git commit)"))
    return Repo(Path(top.stdout.strip()), prefix.stdout.strip())


def resolve_revision(repo: Repo, name: str | None) -> Revision:
    """Resolve a commit, branch or tag name (None = the working tree); AuthorError if unknown."""
    if name is None:
        return Revision(WORKTREE, None)
    if not name or name.startswith("-"):
        raise _unknown_revision(name, repo)
    found = _git(repo.top, "rev-parse", "--verify", "--quiet", "--end-of-options",
                 f"{name}^{{commit}}")
    if found.returncode != 0:
        raise _unknown_revision(name, repo)
    return Revision(name, found.stdout.strip())


def _unknown_revision(name: str, repo: Repo) -> AuthorError:
    has_commits = _git(repo.top, "rev-parse", "--verify", "--quiet", "HEAD").returncode == 0
    hint = ("use a commit, a branch or a tag, e.g. HEAD~1 (the commit before the last)"
            if has_commits else "the repository has no commits yet; commit the comic first")
    return AuthorError(Diagnostic("error", f"unknown revision `{name}`", file=repo.top,
                                  code="git", hint=hint))


def export_revision(repo: Repo, revision: Revision, destination: Path) -> Path:
    """Write the comic's folder as it was at `revision` under `destination`; returns its root.

    Uses `git archive`, so the repository's own state is left exactly as it was.
    """
    if revision.commit is None:
        raise ValueError("the working tree is read in place, not exported")
    spec = [repo.prefix] if repo.prefix else []
    archive = _git(repo.top, "archive", "--format=tar", revision.commit, "--", *spec,
                   binary=True)
    if archive.returncode != 0:
        folder = repo.prefix.rstrip("/") or "."
        raise AuthorError(Diagnostic(
            "error", f"the comic's folder `{folder}` does not exist in {revision.label}",
            file=repo.top, code="git", hint="pick a revision in which the comic was committed"))
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        # The "data" filter refuses absolute paths, links out of the folder and device files.
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(destination, **safe)  # type: ignore[arg-type]
    root = destination / repo.prefix
    if not (root / MANIFEST_NAME).is_file():
        raise AuthorError(Diagnostic(
            "error", f"{revision.label} has no {MANIFEST_NAME} in `{repo.prefix or '.'}`",
            file=repo.top, code="git", hint="pick a revision in which the comic was committed"))
    return root
