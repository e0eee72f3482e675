"""A problem's photos are checked by content and re-encoded without metadata (issue 15 §4,
lti_tool/problems/photos.py)."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from lti_tool.errors import TooLarge, ValidationFailed
from lti_tool.problems.photos import PhotoLimits, PhotoUpload, prepare
from tests.support.images import phone_jpeg, png_claiming

LIMITS = PhotoLimits()


def _upload(data: bytes, name: str = "IMG_0001.jpg") -> PhotoUpload:
    return PhotoUpload(name, io.BytesIO(data))


def test_a_photo_with_gps_exif_is_stored_without_it() -> None:
    original = phone_jpeg()
    with Image.open(io.BytesIO(original)) as sent:  # the test picture really carries what a phone sends
        assert sent.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert sent.getexif()[ExifTags.Base.Make] == "PhoneMakerCo"

    prepared = prepare(_upload(original), LIMITS)

    assert prepared.content_type == "image/jpeg"
    for stored in (prepared.data, prepared.thumbnail):
        with Image.open(io.BytesIO(stored)) as img:
            assert img.format == "JPEG"
            exif = img.getexif()
            assert len(exif) == 0
            assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
            assert "exif" not in img.info and "icc_profile" not in img.info and "xmp" not in img.info
        assert b"Exif" not in stored and b"PhoneMakerCo" not in stored and b"Model-X" not in stored


def test_the_orientation_is_applied_before_the_exif_goes() -> None:
    # Stored 400 × 200 with orientation 6: shown upright it is 200 × 400, the blue left half on top.
    prepared = prepare(_upload(phone_jpeg(400, 200, orientation=6)), LIMITS)
    assert (prepared.width, prepared.height) == (200, 400)
    with Image.open(io.BytesIO(prepared.data)) as img:
        assert img.size == (200, 400)
        top = img.convert("RGB").getpixel((100, 50))
        bottom = img.convert("RGB").getpixel((100, 350))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[2] > 150 and top[0] < 100  # blue
    assert bottom[0] > 150 and bottom[2] < 100  # red


def test_large_photos_are_scaled_and_get_a_thumbnail() -> None:
    prepared = prepare(_upload(phone_jpeg(4000, 3000, orientation=1)), LIMITS)
    assert (prepared.width, prepared.height) == (1600, 1200)
    with Image.open(io.BytesIO(prepared.thumbnail)) as thumb:
        assert thumb.size == (320, 240) and thumb.format == "JPEG"


def test_a_png_with_transparency_stays_a_png_without_its_text_chunks() -> None:
    img = Image.new("RGBA", (120, 80), (0, 128, 0, 0))
    img.paste((0, 128, 0, 255), (0, 0, 60, 80))
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Comment", "GPS 43.87N 125.32E")
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=meta)

    prepared = prepare(_upload(out.getvalue(), "shot.png"), LIMITS)

    assert prepared.content_type == "image/png"
    assert b"GPS 43.87N" not in prepared.data
    with Image.open(io.BytesIO(prepared.data)) as stored:
        assert stored.mode == "RGBA" and not stored.info.get("Comment")
    with Image.open(io.BytesIO(prepared.thumbnail)) as thumb:
        assert thumb.format == "JPEG"


def test_an_opaque_png_becomes_a_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (50, 50), (10, 20, 30, 255)).save(out, "PNG")
    assert prepare(_upload(out.getvalue(), "x.png"), LIMITS).content_type == "image/jpeg"


@pytest.mark.parametrize(
    "data",
    [
        b"This is not a picture, whatever its name says.\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"%PDF-1.7\n1 0 obj<<>>endobj\n",
        phone_jpeg()[:300],  # a JPEG cut short
        b"",
    ],
    ids=["text", "svg", "pdf", "truncated-jpeg", "empty"],
)
def test_what_is_not_a_picture_is_refused_whatever_its_name(data: bytes) -> None:
    with pytest.raises(ValidationFailed) as refused:
        prepare(_upload(data, "projector.jpg"), LIMITS)
    assert refused.value.status == 422
    assert "projector.jpg" in str(refused.value)
    assert "JPEG, PNG, WebP or GIF" in str(refused.value)


@pytest.mark.parametrize("size", [(100_000, 100_000), (8_000, 8_000)], ids=["pillow-bomb", "over-our-limit"])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(size: tuple[int, int]) -> None:
    bomb = png_claiming(*size)
    assert len(bomb) < 200
    with pytest.raises(TooLarge) as refused:
        prepare(_upload(bomb, "bomb.png"), LIMITS)
    assert refused.value.status == 413
    assert "more than 50 megapixels" in str(refused.value)


def test_a_file_over_the_size_limit_is_refused_naming_it() -> None:
    data = phone_jpeg(2000, 1500, orientation=1)
    limits = PhotoLimits(max_bytes=len(data) - 1)
    with pytest.raises(TooLarge) as refused:
        prepare(_upload(data), limits)
    assert refused.value.status == 413
    assert "IMG_0001.jpg" in str(refused.value) and "MB" in str(refused.value)
