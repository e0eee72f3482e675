"""Photos as evidence of a problem (issue 15 §4).

The person raising a problem (in an observation record, a patrol or a contact record) and the unit
resolving it attach photos taken with the phone's camera. Nothing the phone sent is kept as it came:

1. **Content, not name.** The bytes are opened by Pillow restricted to JPEG, PNG, WebP and GIF; the file's
   name and the browser's content type are never trusted (a text file called ``x.jpg`` is refused, 422).
2. **Bombs.** The upload is read at most ``max_bytes`` + 1 bytes (413 beyond), and the pixel count from
   the header is checked against ``max_pixels`` *before* any pixel is decoded (413); Pillow's own
   ``DecompressionBombError`` is refused the same way.
3. **Re-encoded, no metadata.** The EXIF orientation is applied, then the pixels are copied into a fresh
   image (so no EXIF — GPS, camera, time —, XMP, ICC or text chunk can travel along), scaled to at most
   ``max_edge`` pixels and written as JPEG, or PNG when the picture really has transparency; a JPEG
   thumbnail of ``thumb_edge`` pixels goes with it.
4. **Counted.** At most ``max_count`` photos per problem; any refusal stores nothing (the whole upload is
   checked before the first row is written, and the request's transaction rolls back on error).

Storage is behind ``PhotoStorage``: the database (``problem_photo.data``/``thumbnail``), so every app host
and every backup has the photos. An S3-compatible store is not implemented (docs/decisions.md S-4).
Who may see a photo is who may see its problem (``ProblemService.require_visible``), decided in the view
before a byte is read.
"""

from __future__ import annotations

import base64
import io
import logging
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from lti_tool.config import Settings
from lti_tool.db import get_scoped
from lti_tool.errors import Forbidden, NotFound, TooLarge, ValidationFailed
from lti_tool.problems.models import Photo, PhotoStage, Problem

log = logging.getLogger(__name__)

MiB = 1024 * 1024
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
"""What a phone's camera or gallery hands a browser (iOS converts HEIC to JPEG for a file input)."""


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = 8 * MiB
    """One uploaded file (``TINGKE_PHOTO_MAX_BYTES``); a request carries at most 16 MB in all."""
    max_count: int = 6
    """Photos one problem may have (``TINGKE_PHOTO_MAX_COUNT``)."""
    max_pixels: int = 50_000_000
    """Width × height read from the header, checked before decoding (a 48-megapixel camera passes)."""
    max_edge: int = 1600
    """The stored image's longer side, in pixels."""
    thumb_edge: int = 320
    """The thumbnail's longer side (pages and the execution report)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> PhotoLimits:
        return cls(max_bytes=settings.photo_max_bytes, max_count=settings.photo_max_count)


_LIMITS = PhotoLimits()


def configure(limits: PhotoLimits) -> None:
    """Set this process's limits (the app factory and the CLI call it from settings)."""
    global _LIMITS
    _LIMITS = limits


def limits() -> PhotoLimits:
    return _LIMITS


@dataclass(frozen=True)
class PhotoUpload:
    """One uploaded file as the view hands it over: its name (for messages only) and its stream."""

    filename: str
    stream: IO[bytes]


def uploads(files: Sequence[Any]) -> list[PhotoUpload]:
    """The files a form's photo input sent (werkzeug's ``FileStorage``), without the empty part a browser
    sends when no file was chosen."""
    return [PhotoUpload(f.filename or "", f.stream) for f in files if f and f.filename]


@dataclass(frozen=True)
class PreparedPhoto:
    """An upload that passed every check, re-encoded, ready to store."""

    content_type: str
    data: bytes
    thumbnail: bytes
    width: int
    height: int


def _mb(n: int) -> str:
    return f"{n / MiB:g}"


def _name(upload: PhotoUpload) -> str:
    return (upload.filename or "").rsplit("/", 1)[-1][:80] or "—"


def _has_alpha(img: Image.Image) -> bool:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        alpha = img.convert("RGBA").getchannel("A")
        lowest = alpha.getextrema()[0]
        return isinstance(lowest, int | float) and lowest < 255
    return False


def _fresh(img: Image.Image, mode: str) -> Image.Image:
    """The pixels alone, in a new image: no ``info`` (EXIF, XMP, ICC, comments, PNG text) comes along."""
    converted = img.convert(mode)
    return Image.frombytes(mode, converted.size, converted.tobytes())


def _encode(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        img.save(out, "JPEG", quality=85, optimize=True)
    else:
        img.save(out, "PNG", optimize=True)
    return out.getvalue()


def prepare(upload: PhotoUpload, limits: PhotoLimits) -> PreparedPhoto:
    """Check one upload by its content and re-encode it; raises ``TooLarge`` (413) or ``ValidationFailed``
    (422) naming the file and the limit."""
    name = _name(upload)
    raw = upload.stream.read(limits.max_bytes + 1)
    if len(raw) > limits.max_bytes:
        raise TooLarge(
            "Photo “%(name)s” is larger than %(mb)s MB, the limit for one photo; nothing was stored.",
            name=name,
            mb=_mb(limits.max_bytes),
        )
    not_a_picture = ValidationFailed(
        "Photo “%(name)s” is not a picture Tingke can read (JPEG, PNG, WebP or GIF); nothing was stored.",
        name=name,
    )
    too_many_pixels = TooLarge(
        "Photo “%(name)s” has more than %(mp)s megapixels, the limit for one photo; nothing was stored.",
        name=name,
        mp=limits.max_pixels // 1_000_000,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=FORMATS) as opened:
                width, height = opened.size
                if width * height > limits.max_pixels:  # from the header: nothing decoded yet
                    raise too_many_pixels
                opened.load()
                try:
                    img = ImageOps.exif_transpose(opened)  # the camera's orientation, before EXIF goes
                except (KeyError, TypeError, ValueError, struct.error):  # a malformed EXIF block
                    img = opened.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise not_a_picture from None
    alpha = _has_alpha(img)
    clean = _fresh(img, "RGBA" if alpha else "RGB")
    clean.thumbnail((limits.max_edge, limits.max_edge), Image.Resampling.LANCZOS)
    data = _encode(clean, "PNG" if alpha else "JPEG")
    thumb = clean.copy()
    thumb.thumbnail((limits.thumb_edge, limits.thumb_edge), Image.Resampling.LANCZOS)
    if alpha:  # the thumbnail is a JPEG: transparency over white, as a page shows it
        backdrop = Image.new("RGB", thumb.size, "white")
        backdrop.paste(thumb, mask=thumb.getchannel("A"))
        thumb = backdrop
    return PreparedPhoto(
        content_type="image/png" if alpha else "image/jpeg",
        data=data,
        thumbnail=_encode(thumb, "JPEG"),
        width=clean.width,
        height=clean.height,
    )


class PhotoStorage(Protocol):
    """Where a photo's bytes live; the row always holds what describes them."""

    def put(self, photo: Photo, prepared: PreparedPhoto) -> None: ...

    def image(self, photo: Photo) -> bytes: ...

    def thumbnail(self, photo: Photo) -> bytes: ...


class DatabaseStorage:
    """The bytes in the row itself (deferred columns, loaded only when served): every host and every
    database backup has them, with nothing else to configure or back up."""

    def put(self, photo: Photo, prepared: PreparedPhoto) -> None:
        photo.data, photo.thumbnail = prepared.data, prepared.thumbnail

    def image(self, photo: Photo) -> bytes:
        return photo.data

    def thumbnail(self, photo: Photo) -> bytes:
        return photo.thumbnail


class PhotoService:
    def __init__(
        self,
        session: Session,
        institution_id: int,
        limits: PhotoLimits | None = None,
        storage: PhotoStorage | None = None,
    ) -> None:
        self.session = session
        self.institution_id = institution_id
        self.limits = limits or _LIMITS
        self.storage: PhotoStorage = storage or DatabaseStorage()

    # -- adding ---------------------------------------------------------------------------------------
    def prepare_all(self, uploads: Sequence[PhotoUpload], *, already: int = 0) -> list[PreparedPhoto]:
        """Every upload checked and re-encoded, or an error naming the first that fails; nothing stored."""
        if already + len(uploads) > self.limits.max_count:
            raise TooLarge(
                "At most %(n)s photos per problem: it has %(has)s and %(adding)s more were sent; nothing "
                "was stored.",
                n=self.limits.max_count,
                has=already,
                adding=len(uploads),
            )
        return [prepare(upload, self.limits) for upload in uploads]

    def count(self, problem_id: int) -> int:
        return int(
            self.session.scalar(
                select(func.count(Photo.id)).where(
                    Photo.institution_id == self.institution_id, Photo.problem_id == problem_id
                )
            )
            or 0
        )

    def attach(
        self, problem: Problem, prepared: Sequence[PreparedPhoto], *, stage: PhotoStage, person_id: int
    ) -> list[Photo]:
        """Store photos already prepared (``prepare_all``) on ``problem``."""
        out = []
        for item in prepared:
            photo = Photo(
                institution_id=self.institution_id,
                problem_id=problem.id,
                uploaded_by_id=person_id,
                stage=stage,
                content_type=item.content_type,
                width=item.width,
                height=item.height,
                byte_size=len(item.data),
            )
            self.storage.put(photo, item)
            self.session.add(photo)
            out.append(photo)
        self.session.flush()
        if out:
            log.info(
                "problem %s: %s photo(s) added (%s) by person %s, institution %s",
                problem.id,
                len(out),
                stage,
                person_id,
                self.institution_id,
            )
        return out

    def add(
        self, problem: Problem, uploads: Sequence[PhotoUpload], *, stage: PhotoStage, person_id: int
    ) -> list[Photo]:
        prepared = self.prepare_all(uploads, already=self.count(problem.id))
        return self.attach(problem, prepared, stage=stage, person_id=person_id)

    # -- reading --------------------------------------------------------------------------------------
    def get(self, photo_id: int) -> Photo:
        photo = get_scoped(self.session, Photo, photo_id, self.institution_id)
        if photo is None:
            raise NotFound("No such photo.")
        return photo

    def of_problem(self, problem_id: int) -> list[Photo]:
        return list(
            self.session.scalars(
                select(Photo)
                .where(Photo.institution_id == self.institution_id, Photo.problem_id == problem_id)
                .order_by(Photo.created_at, Photo.id)
            )
        )

    def image(self, photo: Photo) -> bytes:
        return self.storage.image(photo)

    def thumbnail(self, photo: Photo) -> bytes:
        return self.storage.thumbnail(photo)

    def thumbnails_as_data_uris(
        self, problem_ids: Sequence[int], *, per_problem: int = 3
    ) -> dict[int, list[str]]:
        """``data:`` URIs of the first thumbnails of each problem, for a PDF whose fetcher fetches nothing
        (docs/decisions.md W-5)."""
        if not problem_ids:
            return {}
        rows = self.session.scalars(
            select(Photo)
            .options(undefer(Photo.thumbnail))
            .where(Photo.institution_id == self.institution_id, Photo.problem_id.in_(list(problem_ids)))
            .order_by(Photo.problem_id, Photo.created_at, Photo.id)
        )
        out: dict[int, list[str]] = {}
        for photo in rows:
            uris = out.setdefault(photo.problem_id, [])
            if len(uris) < per_problem:
                encoded = base64.b64encode(self.thumbnail(photo)).decode("ascii")
                uris.append(f"data:image/jpeg;base64,{encoded}")
        return out

    # -- removing -------------------------------------------------------------------------------------
    def remove(self, photo_id: int, person_id: int) -> Photo:
        """The person who uploaded a photo removes it (the page asks them to confirm first)."""
        photo = self.get(photo_id)
        if photo.uploaded_by_id != person_id:
            raise Forbidden("Only the person who added a photo can remove it.")
        self.session.delete(photo)
        self.session.flush()
        log.info(
            "problem %s: photo %s removed by person %s, institution %s",
            photo.problem_id,
            photo.id,
            person_id,
            self.institution_id,
        )
        return photo
