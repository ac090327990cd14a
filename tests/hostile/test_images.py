"""Art files that are broken, huge, unusual or rotated: refused by name, or read correctly."""

from __future__ import annotations

import io
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image

from comicc.manifest.diagnostics import AuthorError, DiagnosticSink
from comicc.manifest.images import MAX_PIXELS, load_image, probe_image, upright_size
from tests.conftest import BASE_MANIFEST, write_project
from tests.hostile.conftest import line_of, measure_fresh, snapshot

P2_LINE = line_of(BASE_MANIFEST, '"art/p2.png"')


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", **options)
    return out.getvalue()


def declared_size_png(width: int, height: int) -> bytes:
    """A tiny real PNG whose IHDR claims another size, with a valid CRC."""
    data = bytearray(png_bytes(Image.new("RGB", (8, 8), "red")))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _noisy(size=(96, 64)) -> Image.Image:
    """Incompressible pixels, so cutting the file really cuts image data."""
    return Image.frombytes("RGB", size, bytes((i * 7919) % 251 for i in range(size[0] * size[1] * 3)))


BROKEN = {
    "zero-bytes": (b"", "is empty (0 bytes)"),
    "truncated-png": (png_bytes(_noisy())[:600], "damaged or truncated"),
    "corrupt-png-crc": (png_bytes(_noisy())[:200] + b"\0" * 40 + png_bytes(_noisy())[240:],
                        "damaged or truncated"),
    "text-named-png": (b"this is not a picture\n" * 20, "not an image file"),
    "bomb-30000x30000": (declared_size_png(30_000, 30_000), "too large to decode safely"),
    "bomb-max-int": (declared_size_png(2**31 - 1, 2**31 - 1), "too large to decode safely"),
    "bomb-over-limit": (declared_size_png(12_001, 12_000), "more than comicc accepts"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_art_is_refused_by_check_naming_the_file(cli, tmp_path, case) -> None:
    data, words = BROKEN[case]
    write_project(tmp_path)
    (tmp_path / "art/p2.png").write_bytes(data)
    before = snapshot(tmp_path)
    result = cli("check", tmp_path)
    assert result.code == 2, result.err
    assert result.located() == [(P2_LINE, 9)], result.err
    assert "`art/p2.png`" in result.err and words in result.err, result.err
    assert "at page[1].panel[2].art" in result.err
    assert snapshot(tmp_path) == before


def test_truncated_jpeg_body_is_refused_by_the_build_naming_the_file(cli, tmp_path) -> None:
    """A JPEG cut in its scan data has an intact header: check passes, the build names it."""
    write_project(tmp_path)
    data = jpeg_bytes(_noisy((160, 120)), quality=95)
    (tmp_path / "art/p2.png").write_bytes(data[: len(data) * 2 // 3])
    result = cli("build", tmp_path, "--backend", "none", "--no-report")
    assert result.code == 2, result.err
    assert "art/p2.png: error[image]: image file is damaged or truncated" in result.err
    assert not (tmp_path / f"{tmp_path.name}.pdf").exists()


def test_decompression_bomb_is_refused_before_decoding(tmp_path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(declared_size_png(30_000, 30_000))
    for read in (load_image, upright_size):
        with pytest.raises(AuthorError) as caught:
            read(path)
        assert caught.value.diagnostics[0].file == path
        assert "too large to decode safely" in caught.value.diagnostics[0].message
    measured = measure_fresh(
        "from pathlib import Path\n"
        "from comicc.manifest.images import load_image, upright_size\n"
        "from comicc.manifest.diagnostics import AuthorError\n"
        f"path = Path({str(path)!r})",
        "for read in (load_image, upright_size):\n"
        "    try:\n        read(path)\n    except AuthorError:\n        pass\n"
        "    else:\n        raise SystemExit('not refused')")
    assert measured.cpu_s < 0.5, measured
    assert measured.grown_mib < 50, f"decoding 30000x30000 would take 2.5 GiB: {measured}"


def test_size_limit_is_the_same_for_check_and_build(tmp_path) -> None:
    """Just under MAX_PIXELS is accepted by the header probe, and no Pillow warning escapes."""
    path = tmp_path / "big.png"
    path.write_bytes(declared_size_png(12_000, MAX_PIXELS // 12_000))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert probe_image(path).size == (12_000, MAX_PIXELS // 12_000)
    assert not caught, [str(w.message) for w in caught]


# -- unusual but valid files: read as the right RGB pixels ------------------------------------

def _palette_with_transparency() -> Image.Image:
    image = Image.new("P", (16, 8), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(0, (8, 0, 16, 8))
    return image


MODES = {
    # name: (write it, expected (left pixel, right pixel))
    "cmyk-jpeg": (lambda p: Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(p, "JPEG",
                                                                             quality=100),
                  ((255, 0, 0), (255, 0, 0))),
    "16-bit-png": (lambda p: Image.new("I;16", (16, 8), 0x8000).save(p, "PNG"),
                   ((128, 128, 128), (128, 128, 128))),
    "palette-transparency": (lambda p: _palette_with_transparency().save(p, "PNG",
                                                                         transparency=1),
                             ((255, 255, 255), (0, 0, 0))),
    "grayscale": (lambda p: Image.new("L", (16, 8), 77).save(p, "PNG"),
                  ((77, 77, 77), (77, 77, 77))),
    "la-alpha": (lambda p: Image.new("LA", (16, 8), (0, 0)).save(p, "PNG"),
                 ((255, 255, 255), (255, 255, 255))),
    "rgba-half-alpha": (lambda p: Image.new("RGBA", (16, 8), (0, 0, 255, 128)).save(p, "PNG"),
                        ((127, 127, 255), (127, 127, 255))),
}


@pytest.mark.parametrize("case", list(MODES))
def test_unusual_modes_load_as_rgb_with_the_right_colours(tmp_path, case) -> None:
    write, (left, right) = MODES[case]
    path = tmp_path / f"{case}.img"
    write(path)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (16, 8)
    for got, want in ((image.getpixel((2, 4)), left), (image.getpixel((13, 4)), right)):
        assert all(abs(g - w) <= 2 for g, w in zip(got, want, strict=True)), (case, got, want)
    assert upright_size(path) == (16, 8)


def test_project_of_unusual_modes_builds(cli, tmp_path) -> None:
    write_project(tmp_path)
    for name, case in (("p1.png", "cmyk-jpeg"), ("p2.png", "16-bit-png"),
                       ("mara.png", "palette-transparency"), ("tower.png", "la-alpha"),
                       ("style.png", "rgba-half-alpha")):
        MODES[case][0](tmp_path / "art" / name)
    result = cli("build", tmp_path, "--backend", "none", "--no-report", "-q")
    assert result.code == 0, result.err
    assert (tmp_path / f"{tmp_path.name}.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("orientation, top, bottom, left, right", [
    (1, None, None, "red", "blue"),
    (3, None, None, "blue", "red"),  # 180 degrees
    (6, "red", "blue", None, None),  # 90 clockwise: the stored left edge becomes the top
    (8, "blue", "red", None, None),  # 90 counter-clockwise
])
def test_exif_rotated_photo_is_turned_upright(tmp_path, orientation, top, bottom, left,
                                              right) -> None:
    stored = Image.new("RGB", (40, 20), "red")
    stored.paste((0, 0, 255), (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes(stored, exif=exif.tobytes(), quality=95))
    image = load_image(path)
    assert image.size == upright_size(path)
    assert image.size == ((20, 40) if orientation in (6, 8) else (40, 20))
    w, h = image.size
    colours = {"red": (254, 0, 0), "blue": (0, 0, 254)}
    for where, xy in (("top", (w // 2, 2)), ("bottom", (w // 2, h - 3)),
                      ("left", (2, h // 2)), ("right", (w - 3, h // 2))):
        want = {"top": top, "bottom": bottom, "left": left, "right": right}[where]
        if want is not None:
            got = image.getpixel(xy)
            assert all(abs(g - c) <= 8 for g, c in zip(got, colours[want], strict=True)), (where, got)


def test_exif_rotation_on_a_png_is_read_without_decoding(tmp_path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.png"
    Image.new("RGB", (40, 20), "red").save(path, exif=exif.tobytes())
    assert upright_size(path) == (20, 40) == load_image(path).size


def _animated_gif(path: Path) -> None:
    frames = [Image.new("RGB", (120, 90), colour) for colour in ("red", "green", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def test_animated_gif_uses_the_first_frame_with_a_warning(cli, tmp_path) -> None:
    manifest = BASE_MANIFEST.replace("art/p2.png", "art/p2.gif")
    write_project(tmp_path, manifest)
    _animated_gif(tmp_path / "art/p2.gif")
    sink = DiagnosticSink()
    assert load_image(tmp_path / "art/p2.gif", sink).getpixel((5, 5)) == (255, 0, 0)
    assert "animated image with 3 frames; using the first" in sink.items[0].message
    for command in (("check",), ("build", "--backend", "none", "--no-report")):
        result = cli(*command[:1], tmp_path, *command[1:])
        assert result.code == 0, result.err
        assert result.err.count("`art/p2.gif` is animated (3 frames)") == 1, result.err
        assert f"comic.toml:{line_of(manifest, 'art/p2.gif')}:9: warning[image]" in result.err


def test_very_small_art_warns_about_print_resolution(cli, tmp_path) -> None:
    write_project(tmp_path)
    Image.new("RGB", (12, 9), "grey").save(tmp_path / "art/p2.png")
    result = cli("build", tmp_path, "--backend", "none", "--no-report")
    assert result.code == 0
    second_panel = BASE_MANIFEST.rindex("[[page.panel]]")
    assert f"comic.toml:{BASE_MANIFEST[:second_panel].count(chr(10)) + 1}:" in result.err
    assert ("warning[resolution]: panel art prints at 2 DPI, below the comic's 300 DPI (12x9 px art"
            in result.err)
    assert "at page[1].panel[2]\n" in result.err


def test_art_replaced_by_a_broken_file_after_a_good_build(cli, tmp_path) -> None:
    """The cache must not hide a broken file: the next build names it and keeps the old PDF."""
    write_project(tmp_path)
    assert cli("build", tmp_path, "--backend", "none", "--no-report", "-q").code == 0
    pdf = tmp_path / f"{tmp_path.name}.pdf"
    good = pdf.read_bytes()
    shutil.copy(__file__, tmp_path / "art/p2.png")
    result = cli("build", tmp_path, "--backend", "none", "--no-report")
    assert result.code == 2
    assert "`art/p2.png`: not an image file" in result.err
    assert pdf.read_bytes() == good
