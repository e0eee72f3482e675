"""Pictures for the photo tests (issue 15 §4), made with Pillow: a phone's JPEG with GPS and orientation
EXIF, a PNG whose header claims more pixels than any camera makes."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

GPS_TAGS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (43.0, 52.0, 30.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (125.0, 19.0, 12.0),
}


def phone_jpeg(width: int = 400, height: int = 200, *, orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it held sideways: left half blue, right half red, stored landscape with
    EXIF orientation 6 (display rotated 90° clockwise), the camera's make and a GPS position."""
    img = Image.new("RGB", (width, height), (220, 20, 20))
    img.paste((20, 20, 220), (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMakerCo"
    exif[ExifTags.Base.Model] = "Model-X-1234"
    exif[ExifTags.IFD.GPSInfo] = GPS_TAGS
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header says ``width`` × ``height`` (a decompression bomb's opening)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
