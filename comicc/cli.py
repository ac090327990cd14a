"""The `comicc` command line: a thin layer that parses flags and renders diagnostics.

Exit codes: 0 success, 2 author error (bad manifest, art, options), 1 internal failure,
130 interrupted. Heavy modules (torch) are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from comicc import __version__
from comicc.interrupts import exit_now, say_interrupted, stop_promptly
from comicc.manifest.diagnostics import AuthorError, Diagnostic, printable

EXIT_OK, EXIT_INTERNAL, EXIT_AUTHOR, EXIT_INTERRUPTED = 0, 1, 2, 130


def _print_diagnostics(diagnostics: Sequence[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        print(diagnostic.render(), file=sys.stderr)
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    if errors:
        print(f"comicc: {errors} error(s), {warnings} warning(s)", file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    from comicc.manifest.load import load_project

    project = load_project(args.path)
    _print_diagnostics(project.warnings)
    comic = project.comic
    panels = len(comic.panels())
    print(f"{project.manifest_path}: ok — {len(comic.page)} page(s), {panels} panel(s), "
          f"{len(comic.elements)} element(s), {len(project.warnings)} warning(s)")
    return EXIT_OK


def cmd_matrix(args: argparse.Namespace) -> int:
    from comicc.manifest.load import load_project
    from comicc.manifest.matrix import target_matrix

    project = load_project(args.path)
    matrix = target_matrix(project.comic)
    if args.format == "json":
        print(matrix.to_json())
    elif args.format == "csv":
        print(matrix.to_csv(), end="")
    else:
        print(matrix.to_table())
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from comicc.manifest.load import find_manifest
    from comicc.manifest.schema import schema_text

    project_dir = find_manifest(args.path).parent if args.path else None
    text = schema_text(project_dir)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from comicc.manifest.schema import schema_text
    from comicc.starter import write_starter_comic

    target = Path(args.dir)
    if (target / "comic.toml").exists():
        raise AuthorError(Diagnostic("error", "a comic.toml already exists here; not overwriting",
                                     file=target / "comic.toml", code="init"))
    target.mkdir(parents=True, exist_ok=True)
    title = args.title or target.resolve().name.replace("-", " ").replace("_", " ").title()
    written = write_starter_comic(target, title)
    (target / "comic.schema.json").write_text(schema_text(), encoding="utf-8")
    print(f"created a comic in {target} ({len(written) + 1} files)")
    print(f"next: comicc build {target}")
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    with stop_promptly():
        return _build(args)


def _build(args: argparse.Namespace) -> int:
    from comicc.engine.request import BuildRequest
    from comicc.engine.stamp import replay

    request = BuildRequest(
        path=args.path,
        output=Path(args.output) if args.output else None,
        format=args.format,
        backend=args.backend,
        stylenet=args.stylenet,
        preset=args.preset,
        device=args.device,
        steps=args.steps,
        seed=args.seed,
        explain=args.explain,
        report=not args.no_report,
        quiet=args.quiet,
        distributed=args.distributed,
        cache_dir=_cache_dir(args),
        pdf=args.pdf,
    )
    replayed = replay(request)  # nothing changed since the last build: answered by stat
    if replayed is not None:
        return replayed
    from comicc.engine.pipeline import run_build

    return run_build(request)


def cmd_watch(args: argparse.Namespace) -> int:
    from comicc.engine.request import BuildRequest
    from comicc.watch import watch

    request = BuildRequest(
        path=args.path, output=Path(args.output) if args.output else None, format=args.format,
        backend=args.backend, stylenet=args.stylenet, preset=args.preset, device=args.device,
        steps=args.steps, seed=args.seed, report=not args.no_report, quiet=args.quiet,
        cache_dir=_cache_dir(args),
        pdf=args.pdf,
    )
    return watch(request, max_rebuilds=args.max_rebuilds, debug=args.debug)


def cmd_diff(args: argparse.Namespace) -> int:
    from comicc.engine.request import BuildRequest
    from comicc.git.diff import run_diff

    request = BuildRequest(backend=args.backend, preset=args.preset, device=args.device,
                           steps=args.steps, quiet=args.quiet)
    return run_diff(args.arguments, args.output, request, dpi=args.dpi)


def cmd_preflight(args: argparse.Namespace) -> int:
    from pypdf.errors import PyPdfError

    from comicc.page.preflight import preflight
    from comicc.page.printers import PRINTERS

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its read warnings are not the author's
    path = Path(args.pdf)
    try:
        findings = preflight(path, PRINTERS[args.printer], ink_limit=args.ink_limit)
    except (OSError, ValueError, PyPdfError) as exc:
        raise AuthorError(Diagnostic("error", f"cannot read the PDF: {printable(str(exc))}",
                                     file=path, code="preflight")) from None
    diagnostics = [finding.diagnostic(path) for finding in findings]
    _print_diagnostics(diagnostics)
    rejected = any(d.severity == "error" for d in diagnostics)
    verdict = "the printer would reject it" if rejected else "ok"
    print(f"{path}: {verdict} ({args.printer}: {len(diagnostics)} finding(s))")
    return EXIT_AUTHOR if rejected else EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    from comicc.engine.cache import CACHE_DIR, clean_cache
    from comicc.manifest.load import find_manifest

    root = find_manifest(args.path).resolve().parent
    folder = _cache_dir(args)
    removed = clean_cache(root, keep_last=args.keep_last, folder=folder)
    print(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'} from "
          f"{folder or root / CACHE_DIR}")
    return EXIT_OK


def _cache_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.cache_dir) if args.cache_dir else None


# One table of every command and flag: splitting it would scatter the command line.
def build_parser() -> argparse.ArgumentParser:
    from comicc.manifest.choices import (
        BackendChoice,
        DeviceChoice,
        PdfFlavour,
        PresetName,
        Printer,
        StyleNetName,
        choices,
    )

    parser = argparse.ArgumentParser(
        prog="comicc",
        description="Compile a comic project (comic.toml + the artist's art) into a print-ready PDF.",
    )
    parser.add_argument("--version", action="version", version=f"comicc {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_path(p: argparse.ArgumentParser) -> None:
        p.add_argument("path", nargs="?", default=".", help="the comic's folder or its comic.toml")

    def with_build_options(p: argparse.ArgumentParser) -> None:
        """The flags `build` and `watch` share; each overrides its key in [build]."""
        p.add_argument("-o", "--output",
                       help="output file (.pdf or .cbz); default <folder>/<name>.pdf")
        p.add_argument("--format", choices=["pdf", "cbz"], help="output format (default from -o)")
        p.add_argument("--backend", choices=choices(BackendChoice))
        p.add_argument("--stylenet", choices=choices(StyleNetName))
        p.add_argument("--preset", choices=choices(PresetName))
        p.add_argument("--device", choices=choices(DeviceChoice))
        p.add_argument("--steps", type=int, help="override the preset's optimisation steps")
        p.add_argument("--seed", type=int, help="override the manifest's seed")
        p.add_argument("--pdf", choices=choices(PdfFlavour),
                       help="PDF flavour: plain, x4 (PDF/X-4) or x1a (PDF/X-1a, CMYK); "
                            "default [comic] pdf")

    def with_cache_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cache-dir", metavar="DIR",
                       help="keep the build cache in DIR (default <folder>/.comicc), e.g. beside "
                            "the output: -o out/book.pdf --cache-dir out/.comicc")

    p = sub.add_parser("init", help="create a small working comic")
    p.add_argument("dir", nargs="?", default=".", help="folder to create it in")
    p.add_argument("--title", help="the comic's title")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("check", help="validate comic.toml and the files it names")
    with_path(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("matrix", help="print the element x panel target matrix")
    with_path(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_matrix)

    p = sub.add_parser("schema", help="print the JSON Schema of comic.toml")
    p.add_argument("path", nargs="?", help="a comic whose own layout templates the schema also "
                   "accepts (default: the built-in layouts only)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("build", help="restyle the panels and write the PDF (or CBZ)")
    with_path(p)
    with_build_options(p)
    p.add_argument("--explain", action="store_true", help="say why each stage ran or was reused")
    p.add_argument("--no-report", action="store_true", help="skip the HTML build report")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--distributed", action="store_true",
                   help="shard panels across torchrun ranks (set by torchrun automatically)")
    with_cache_dir(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("watch", help="build, then rebuild on every save of the manifest or art")
    with_path(p)
    with_build_options(p)
    p.add_argument("--no-report", action="store_true", help="skip the HTML build report")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--max-rebuilds", type=int, metavar="N", help="stop after N rebuilds")
    with_cache_dir(p)
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("diff", help="show what changed between two git revisions of the comic")
    p.add_argument("arguments", nargs="*", metavar="[REV_A] [REV_B] [PATH]",
                   help="revisions to compare (default HEAD and the working tree) and the "
                        "comic's folder (default .)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="folder for the pictures and index.html (default <folder>/.comicc/diff)")
    p.add_argument("--backend", choices=choices(BackendChoice),
                   help="style backend for both sides (default: each manifest's; none is fastest)")
    p.add_argument("--preset", choices=choices(PresetName))
    p.add_argument("--device", choices=choices(DeviceChoice))
    p.add_argument("--steps", type=int, help="override the preset's optimisation steps")
    p.add_argument("--dpi", type=float, default=72.0, help="resolution of the pictures")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("preflight", help="check a PDF against a printer's specification")
    p.add_argument("pdf", metavar="BOOK.pdf", help="the PDF to check")
    p.add_argument("--printer", choices=choices(Printer), default="generic",
                   help="whose specification (default generic)")
    p.add_argument("--ink-limit", type=int, metavar="PERCENT",
                   help="total ink limit instead of the printer's")
    p.set_defaults(func=cmd_preflight)

    p = sub.add_parser("clean", help="empty the build cache (.comicc/ or --cache-dir)")
    with_path(p)
    p.add_argument("--keep-last", type=int, default=0, metavar="N",
                   help="keep the entries of the last N builds")
    with_cache_dir(p)
    p.set_defaults(func=cmd_clean)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `comicc` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except AuthorError as exc:
        _print_diagnostics(exc.diagnostics)
        return EXIT_AUTHOR
    except KeyboardInterrupt:
        say_interrupted()
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRORS:
            return _internal_error(exc, args)
        _print_diagnostics([_environment_diagnostic(exc)])
        return EXIT_AUTHOR
    except Exception as exc:
        return _internal_error(exc, args)


def entry() -> None:
    """The `comicc` program: `main`, then the exit (see `exit_now`)."""
    try:
        code = main()
    except KeyboardInterrupt:  # while the arguments were parsed, before a command ran
        say_interrupted()
        code = EXIT_INTERRUPTED
    exit_now(code)


# A full disk or a read-only folder is the machine's state, not a bug in comicc.
_ENVIRONMENT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _environment_diagnostic(exc: OSError) -> Diagnostic:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some disk space (`comicc clean` empties the build cache), then build again"
    else:
        hint = "check that this folder is writable by you, or choose another with -o"
    where = Path(os.fsdecode(exc.filename)) if isinstance(exc.filename, (str, bytes)) else None
    return Diagnostic("error", exc.strerror or str(exc), file=where, hint=hint, code="io")


def _internal_error(exc: BaseException, args: argparse.Namespace) -> int:
    """An internal failure: say so plainly, keep the trace for --debug."""
    if args.debug or os.environ.get("COMICC_DEBUG"):
        traceback.print_exc()
    print(f"comicc: internal error: {type(exc).__name__}: {printable(str(exc))}", file=sys.stderr)
    print("comicc: this is a bug in comicc; rerun with --debug for details", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    entry()
