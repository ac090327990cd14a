"""Build settings: the command line merged over the manifest's `[build]`, validated once.

`BuildRequest` (`comicc.engine.request`) is what the author typed (None = take the
manifest's value); `resolve_settings` turns it and `[build]` into one `BuildSettings`, the only options
object the stages see. Everything in `BuildSettings` except `run` changes what a build
produces and enters the cache keys; `run` (quiet, why `auto` chose a backend) changes
only how this run behaves on this machine and never does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError

from comicc.engine.request import BuildRequest
from comicc.manifest.choices import Backend, DeviceChoice, StyleNetName
from comicc.manifest.diagnostics import AuthorError, Diagnostic
from comicc.manifest.load import Project
from comicc.manifest.models import BuildOptions
from comicc.ml.presets import PRESETS, Preset


@dataclass(frozen=True)
class RunOptions:
    """How this run behaves, not what it makes: never part of a cache key.

    torch's CPU threads (COMICC_THREADS) are the machine's business too; they are read
    where torch is configured (`comicc.ml.distributed.default_threads`) and never keyed.
    """

    quiet: bool = False  # no progress output (messages and the style progress bar)
    backend_reason: str = ""  # why `auto` picked the backend, said to the author


@dataclass(frozen=True)
class BuildSettings:
    """The effective options of one build: what every stage reads, resolved once."""

    backend: Backend  # never "auto": resolved against the configured CLIP weights
    stylenet: StyleNetName
    preset: Preset  # the named preset with [build]'s and --steps' overrides applied
    device: DeviceChoice
    seed: int
    detail: float  # share of the art's fine detail over the pretrained network's output
    clip_model: str
    clip_pretrained: str | None
    clip_checkpoint: str | None
    run: RunOptions = field(default_factory=RunOptions)

    def device_class(self) -> str:
        """cpu and accelerators give different floating-point results; which GPU does not."""
        return "cpu" if self.device == "cpu" else "accelerator"

    def key(self) -> dict[str, Any]:
        """Every value that changes the styled panels (the style stage's options input)."""
        return {"backend": self.backend, "stylenet": self.stylenet, "preset": asdict(self.preset),
                "device": self.device_class(), "seed": self.seed, "detail": self.detail,
                "clip_model": self.clip_model, "clip_pretrained": self.clip_pretrained,
                "clip_checkpoint": self.clip_checkpoint}

    def classify_key(self) -> dict[str, Any]:
        """The values the element classifiers depend on (not the style loop's)."""
        p = self.preset
        return {"size": p.size, "classifier_steps": p.classifier_steps,
                "classifier_size": p.classifier_size, "classifier_views": p.classifier_views,
                "seed": self.seed, "device": self.device_class()}

    def summary(self) -> dict[str, Any]:
        """The settings as the build report shows them, flat and readable."""
        values = {"backend": self.backend, "stylenet": self.stylenet, "preset": self.preset.name,
                  "device": self.device, "steps": self.preset.steps, "size": self.preset.size,
                  "consistency_weight": self.preset.lam, "detail": self.detail, "seed": self.seed,
                  "clip_model": self.clip_model, "clip_pretrained": self.clip_pretrained,
                  "clip_checkpoint": self.clip_checkpoint,
                  "backend_reason": self.run.backend_reason}
        return {k: v for k, v in values.items() if v not in (None, "")}


def effective_options(project: Project, request: BuildRequest) -> BuildOptions:
    """`[build]` with the command line's values over it, checked by the manifest's own model."""
    overrides = {"backend": request.backend, "stylenet": request.stylenet,
                 "preset": request.preset, "device": request.device, "steps": request.steps,
                 "seed": request.seed}
    merged = project.comic.build.model_dump() | {k: v for k, v in overrides.items()
                                                 if v is not None}
    try:
        return BuildOptions.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = "--" + str(error["loc"][0]) if error["loc"] else "an option"
        raise AuthorError(Diagnostic("error", f"{flag}: {error['msg']}", code="option",
                                     hint="see `comicc build --help`")) from None


def resolve_settings(project: Project, request: BuildRequest) -> BuildSettings:
    """Merge the command line over `[build]`, resolve `auto` and check what the backend needs."""
    options = effective_options(project, request)
    backend, reason = _backend(project, options)
    preset = PRESETS[options.preset].with_overrides(
        steps=options.steps, size=options.size, lam=options.consistency_weight)
    if options.stylenet != "pretrained" or backend != "gram":
        # The background term holds the untuned network's colours, which are the target's
        # only when the Gram loss pulls towards that network's rendering of the named style:
        # an untuned U-Net is the identity (the art's colours), and the CLIP backend pulls
        # towards the directions' text, not towards where the network started.
        preset = preset.with_overrides(background_weight=0.0)
    return BuildSettings(
        backend=backend, stylenet=options.stylenet, preset=preset, device=options.device,
        seed=options.seed, detail=options.detail, clip_model=options.clip_model,
        clip_pretrained=options.clip_pretrained, clip_checkpoint=options.clip_checkpoint,
        run=RunOptions(quiet=request.quiet, backend_reason=reason))


def _backend(project: Project, options: BuildOptions) -> tuple[Backend, str]:
    """The backend to use and, for `auto`, why; refuses one the comic cannot feed."""
    backend: Backend
    reason = ""
    if options.backend == "auto":
        backend, reason = _auto_backend(options)
    else:
        backend = options.backend
    if backend == "clip" and not (options.clip_checkpoint or options.clip_pretrained):
        raise AuthorError(project.locate(Diagnostic(
            "error", "the clip backend needs CLIP weights",
            key_path=("build", "backend"), code="backend",
            hint='set [build] clip_checkpoint = "weights/clip.safetensors" (a local file) or '
                 'clip_pretrained = "<open_clip tag in your local cache>", or use backend = "gram"')))
    if backend == "clip":
        _require_directions(project)
    if backend == "gram" and options.stylenet == "unet" and project.comic.comic.style_image is None:
        raise AuthorError(project.locate(Diagnostic(
            "error", "the gram backend with stylenet = \"unet\" needs a style image",
            key_path=("comic",), code="backend",
            hint='add style_image = "art/style.png" to [comic], or use stylenet = "pretrained"')))
    return backend, reason


def _require_directions(project: Project) -> None:
    """CLIP is steered by text: every panel needs a direction, its own or the comic's."""
    comic = project.comic
    if comic.comic.direction.strip():
        return
    missing = [project.locate(Diagnostic(
        "error", "the clip backend needs a text direction for this panel",
        key_path=("page", p, "panel", j), code="direction",
        hint='add direction = "..." here, or a global direction in [comic]'))
        for p, j, panel in comic.panels() if not panel.direction.strip()]
    if missing:
        raise AuthorError(missing)


def _auto_backend(options: BuildOptions) -> tuple[Backend, str]:
    if options.clip_checkpoint:
        return "clip", "auto: a CLIP checkpoint is configured"
    if options.clip_pretrained:
        from comicc.ml.clip import clip_available

        if clip_available(options.clip_model, options.clip_pretrained, None):
            return "clip", f"auto: CLIP weights {options.clip_model}/{options.clip_pretrained} found"
        return "gram", (f"auto: CLIP weights {options.clip_model}/{options.clip_pretrained} are "
                        "not in the local cache; using the gram backend")
    return "gram", "auto: no CLIP weights configured; using the gram backend (style image)"

