"""The observation record's fields: their names, how a submitted value is parsed, and what "complete" means.

One vocabulary serves the form (input ``name``s), the autosave JSON, corrections, the audit trail, the
export columns and the import: a fixed set of fields (O-13) plus two per policy dimension,
``rating__<code>`` and ``comment__<code>``. Values arrive as text (form inputs, spreadsheet cells) or as
JSON scalars; parsing never raises, it returns the value or a message (a catalog msgid) for the field.

Local times (arrival, the after-class exchanges) are the institution's clock (Asia/Shanghai by
default); the exchange timestamps are stored as UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from lti_tool.i18n import N_
from lti_tool.policy.schema import Choice, Policy

RATING_PREFIX = "rating__"
COMMENT_PREFIX = "comment__"
MAX_TEXT = 20_000
MAX_COMMENT = 2_000


@dataclass(frozen=True)
class FieldDef:
    name: str
    kind: str
    """text | bool | tristate | time | datetime | count"""
    label: str
    """A catalog msgid (English) naming the field for people."""


FIXED_FIELDS: tuple[FieldDef, ...] = (
    FieldDef("arrival_time", "time", N_("Arrival time")),
    FieldDef("expected_count", "count", N_("Students expected (应到)")),
    FieldDef("present_count", "count", N_("Students present (实到)")),
    FieldDef("is_supervision", "bool", N_("Done as teaching supervision")),
    FieldDef("narrative", "text", N_("Narrative of the teaching process")),
    FieldDef("strengths", "text", N_("Strengths")),
    FieldDef("problems_text", "text", N_("Problems")),
    FieldDef("suggestions", "text", N_("Suggestions")),
    FieldDef("exchange_teacher_done", "tristate", N_("Exchange with the teacher after class")),
    FieldDef("exchange_teacher_at", "datetime", N_("When (exchange with the teacher)")),
    FieldDef("exchange_teacher_text", "text", N_("What was said with the teacher")),
    FieldDef("exchange_students_done", "tristate", N_("Exchange with students after class")),
    FieldDef("exchange_students_at", "datetime", N_("When (exchange with students)")),
    FieldDef("exchange_students_text", "text", N_("What was said with students")),
)
FIXED = {f.name: f for f in FIXED_FIELDS}

YES = {"yes", "y", "true", "1", "on", "是", "有", "已交流", "已开展"}
NO = {"no", "n", "false", "0", "off", "否", "无", "未交流", "未开展"}


def rating_field(code: str) -> str:
    return RATING_PREFIX + code


def comment_field(code: str) -> str:
    return COMMENT_PREFIX + code


def field_label(name: str, policy: Policy) -> str:
    """A person-readable name: the policy's Chinese label for dimensions, a msgid for fixed fields."""
    if name in FIXED:
        return FIXED[name].label
    for prefix in (RATING_PREFIX, COMMENT_PREFIX):
        if name.startswith(prefix):
            code = name[len(prefix) :]
            dim = next((d for d in policy.dimensions if d.code == code), None)
            label = dim.label if dim else code
            return label if prefix == RATING_PREFIX else f"{label} · 评语"
    return name


def scale_choice(policy: Policy, value: str) -> Choice | None:
    """A scale choice by its code or its label (imports name ratings either way)."""
    value = value.strip()
    for choice in policy.scale:
        english = choice.label_en and value.lower() == choice.label_en.lower()
        if value in (choice.code, choice.label) or english:
            return choice
    return None


def parse_tristate(value: Any) -> tuple[bool | None, str | None]:
    if value is None or isinstance(value, bool):
        return value, None
    text = str(value).strip().lower()
    if not text:
        return None, None
    if text in YES:
        return True, None
    if text in NO:
        return False, None
    return None, N_("Answer yes or no.")


def parse_time(value: Any) -> tuple[dt.time | None, str | None]:
    text = str(value or "").strip()
    if not text:
        return None, None
    m = re.fullmatch(r"(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?", text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None, N_("Enter a time as HH:MM.")
    return dt.time(int(m.group(1)), int(m.group(2))), None


def parse_count(value: Any) -> tuple[int | None, str | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return None, N_("Enter a whole number.")
    try:
        number = int(str(value).strip())
    except ValueError:
        return None, N_("Enter a whole number.")
    if number < 0 or number > 100_000:
        return None, N_("Enter a number between 0 and 100000.")
    return number, None


def parse_local_datetime(value: Any, day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime | None, str | None]:
    """``YYYY-MM-DDTHH:MM`` (a datetime-local input) or ``HH:MM`` on the class's day, local → UTC."""
    text = str(value or "").strip()
    if not text:
        return None, None
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[T ](\d{1,2})[:：](\d{2})(?::\d{2})?", text)
    try:
        if m:
            local = dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), tzinfo=tz)
        else:
            t, err = parse_time(text)
            if err or t is None:
                return None, N_("Enter a date and time.")
            local = dt.datetime.combine(day, t, tzinfo=tz)
        return local.astimezone(dt.UTC), None
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01 00:00 local is before year 1 in UTC
        return None, N_("Enter a date and time.")


def parse_text(value: Any, limit: int) -> tuple[str | None, str | None]:
    """Text as typed. Anything but a string (a JSON object, list, number or boolean posted by something other
    than the form) is refused rather than stored as its Python spelling."""
    if value is not None and not isinstance(value, str):
        return None, N_("This field takes text.")
    text = "" if value is None else value
    text = text.replace("\r\n", "\n").strip()
    if len(text) > limit:
        return None, N_("This text is too long.")
    return text, None


def parse_field(name: str, value: Any, policy: Policy, day: dt.date, tz: ZoneInfo) -> tuple[Any, str | None]:
    """Parse one submitted value; ``(value, None)`` or ``(None, msgid)``. Unknown names are refused."""
    if name.startswith(RATING_PREFIX):
        code = name[len(RATING_PREFIX) :]
        if code not in {d.code for d in policy.dimensions}:
            return None, N_("Unknown field.")
        text = str(value or "").strip()
        if not text:
            return None, None
        choice = scale_choice(policy, text)
        return (choice.code, None) if choice else (None, N_("Choose a rating from the scale."))
    if name.startswith(COMMENT_PREFIX):
        if name[len(COMMENT_PREFIX) :] not in {d.code for d in policy.dimensions}:
            return None, N_("Unknown field.")
        return parse_text(value, MAX_COMMENT)
    spec = FIXED.get(name)
    if spec is None:
        return None, N_("Unknown field.")
    if spec.kind == "text":
        return parse_text(value, MAX_TEXT)
    if spec.kind == "bool":
        flag, err = parse_tristate(value)
        return (bool(flag), err)
    if spec.kind == "tristate":
        return parse_tristate(value)
    if spec.kind == "time":
        return parse_time(value)
    if spec.kind == "count":
        return parse_count(value)
    return parse_local_datetime(value, day, tz)


EXCHANGE_TIMES = ("exchange_teacher_at", "exchange_students_at")


def exchange_time_error(name: str, value: Any, class_end: dt.datetime | None) -> str | None:
    """The after-class exchange (O-13) is never before the class ends (docs/policy-rules.md "What
    unannounced means in the data"); ``class_end`` is aware, ``value`` an aware datetime or None."""
    if (
        name in EXCHANGE_TIMES
        and class_end is not None
        and isinstance(value, dt.datetime)
        and value < class_end
    ):
        return N_("The exchange takes place after class: enter a time after the class ended.")
    return None


def missing_fields(
    values: dict[str, Any], policy: Policy, class_end: dt.datetime | None = None
) -> dict[str, str]:
    """What a record still needs before it can be submitted (O-13): field name → msgid.

    ``values`` is the would-be state of the record (every fixed field and every dimension's rating);
    ``class_end`` (aware) lets it refuse an after-class exchange dated before the class ended.
    """
    missing: dict[str, str] = {}
    for dim in policy.dimensions:
        if values.get(rating_field(dim.code)) not in {c.code for c in policy.scale}:
            missing[rating_field(dim.code)] = N_("Choose a rating.")
    if not (values.get("narrative") or "").strip():
        missing["narrative"] = N_("Describe the teaching process.")
    if values.get("arrival_time") is None:
        missing["arrival_time"] = N_("Record when you arrived.")
    expected, present = values.get("expected_count"), values.get("present_count")
    if expected is None:
        missing["expected_count"] = N_("Enter the number of students expected.")
    if present is None:
        missing["present_count"] = N_("Enter the number of students present.")
    elif expected is not None and present > expected:
        missing["present_count"] = N_("More students present than expected.")
    for who in ("teacher", "students"):
        done = values.get(f"exchange_{who}_done")
        if done is None:
            missing[f"exchange_{who}_done"] = N_("Say whether the exchange took place.")
        elif done and not (values.get(f"exchange_{who}_text") or "").strip():
            missing[f"exchange_{who}_text"] = N_("Say what was said.")
        at = f"exchange_{who}_at"
        if (error := exchange_time_error(at, values.get(at), class_end)) is not None:
            missing[at] = error
    return missing


def display_value(name: str, value: Any, policy: Policy, tz: ZoneInfo) -> str:
    """A stored value as text (audit trail, exports): ratings by label, local times, yes/no."""
    if value is None:
        return ""
    if name.startswith(RATING_PREFIX):
        choice = scale_choice(policy, str(value))
        return choice.label if choice else str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)
