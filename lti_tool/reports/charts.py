"""Hand-made SVG charts for the reports: vector, tiny, and drawn from the statistics dataclasses.

Why by hand: a string of SVG costs microseconds and lays out in WeasyPrint with no warnings, while
matplotlib costs half a second to import and pygal adds a dependency (docs/stack-notes.md §3).
Text stays text (selectable, searchable in the PDF) and is drawn in "Noto Sans CJK SC" by WeasyPrint.

Every label is XML-escaped: unit names, dimension labels and course names come from imports and
policy uploads, so they are user text. Charts carry no ids, so several can sit in one document.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from xml.sax.saxutils import escape as _xml_escape

from markupsafe import Markup

from lti_tool.reports.statistics import MonthPoint, RatingDistribution, SemesterStatistics

FONT = "Noto Sans CJK SC"
INK = "#1f1f1f"
GRID = "#d0d0d0"
ACCENT = "#9b1c1c"
"""The deep red of Chinese official documents, for single-series charts."""
PALETTE = ("#9b1c1c", "#1f4e79", "#c58a1a", "#4f7d3a", "#6b4c9a", "#5f6b73", "#b5651d", "#2a7f7f")
SCALE_COLOURS = ("#2f6f4e", "#7fa65a", "#d9a441", "#b33a3a", "#6b4c9a", "#5f6b73")
"""Best to worst rating, in the policy scale's order."""


def esc(text: object) -> str:
    """Escape text for an SVG text node or attribute (quotes too)."""
    return _xml_escape(str(text), {'"': "&quot;", "'": "&apos;"})


def text_width(text: str, size: float) -> float:
    """Approximate rendered width: CJK and other wide glyphs are one em, the rest about half."""
    width = 0.0
    for ch in text:
        width += size if unicodedata.east_asian_width(ch) in ("W", "F") else size * 0.56
    return width


def clip(text: str, size: float, max_width: float) -> str:
    """Shorten ``text`` with an ellipsis so it fits ``max_width`` (long unit names)."""
    if text_width(text, size) <= max_width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > max_width:
            break
        out += ch
    return out + "…"


def _svg(width: float, height: float, body: list[str], title: str) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" role="img">'
        f"<title>{esc(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text node above is escaped


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    percent: bool = False,
    max_value: float | None = None,
    width: float = 480,
    colour: str = ACCENT,
    targets: Sequence[float | None] | None = None,
) -> Markup:
    """Horizontal bars, one per label (long Chinese unit names read better horizontally).

    ``targets`` draws a thin mark per bar (a rule's required count or a target share).
    """
    size = 10.0
    label_w = min(max((text_width(str(lb), size) for lb in labels), default=40.0) + 8, width * 0.4)
    row_h, top = 20.0, 8.0
    plot_x, plot_w = label_w + 4, width - label_w - 48
    height = top + row_h * max(len(labels), 1) + 20
    top_value = (
        max_value
        if max_value is not None
        else max([*values, *(t for t in (targets or []) if t is not None), 1e-9])
    )
    top_value = top_value or 1.0
    body: list[str] = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = plot_x + plot_w * frac
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 2:.1f}" x2="{x:.1f}" y2="{height - 16:.1f}" '
            f'stroke="{GRID}" stroke-width="0.5"/>'
        )
        body.append(
            f'<text x="{x:.1f}" y="{height - 4:.1f}" font-size="8" fill="{INK}" text-anchor="middle">'
            f"{esc(_fmt(top_value * frac, percent))}</text>"
        )
    if not labels:
        body.append(
            f'<text x="{plot_x + 4:.1f}" y="{top + 13:.1f}" font-size="{size}" fill="{INK}">无数据</text>'
        )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row_h
        w = plot_w * max(0.0, min(1.0, value / top_value))
        body.append(
            f'<text x="{label_w:.1f}" y="{y + 13:.1f}" font-size="{size}" fill="{INK}" '
            f'text-anchor="end">{esc(clip(str(label), size, label_w - 4))}</text>'
        )
        body.append(
            f'<rect x="{plot_x:.1f}" y="{y + 4:.1f}" width="{w:.1f}" height="{row_h - 8:.1f}" '
            f'fill="{colour}"/>'
        )
        body.append(
            f'<text x="{plot_x + w + 3:.1f}" y="{y + 13:.1f}" font-size="8.5" fill="{INK}">'
            f"{esc(_fmt(value, percent))}</text>"
        )
        target = targets[i] if targets else None
        if target is not None:
            tx = plot_x + plot_w * max(0.0, min(1.0, target / top_value))
            body.append(
                f'<line x1="{tx:.1f}" y1="{y + 2:.1f}" x2="{tx:.1f}" y2="{y + row_h - 2:.1f}" '
                f'stroke="{INK}" stroke-width="1.2" stroke-dasharray="2,1"/>'
            )
    return _svg(width, height, body, title)


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[str],
    rows: Sequence[Sequence[int]],
    *,
    title: str,
    width: float = 480,
    colours: Sequence[str] = SCALE_COLOURS,
) -> Markup:
    """100 % stacked horizontal bars: one bar per label, one segment per series (rating level)."""
    size = 10.0
    label_w = min(max((text_width(str(lb), size) for lb in labels), default=40.0) + 8, width * 0.4)
    row_h, top = 20.0, 24.0
    plot_x, plot_w = label_w + 4, width - label_w - 36
    height = top + row_h * max(len(labels), 1) + 6
    body: list[str] = []
    x = plot_x
    for j, name in enumerate(series):  # legend
        body.append(f'<rect x="{x:.1f}" y="4" width="9" height="9" fill="{colours[j % len(colours)]}"/>')
        body.append(f'<text x="{x + 12:.1f}" y="12" font-size="9" fill="{INK}">{esc(name)}</text>')
        x += 12 + text_width(str(name), 9) + 12
    for i, (label, counts) in enumerate(zip(labels, rows, strict=True)):
        y = top + i * row_h
        total = sum(counts)
        body.append(
            f'<text x="{label_w:.1f}" y="{y + 13:.1f}" font-size="{size}" fill="{INK}" '
            f'text-anchor="end">{esc(clip(str(label), size, label_w - 4))}</text>'
        )
        if total == 0:
            body.append(
                f'<rect x="{plot_x:.1f}" y="{y + 4:.1f}" width="{plot_w:.1f}" height="{row_h - 8:.1f}" '
                f'fill="none" stroke="{GRID}"/>'
            )
            continue
        seg_x = plot_x
        for j, count in enumerate(counts):
            w = plot_w * count / total
            if w <= 0:
                continue
            body.append(
                f'<rect x="{seg_x:.2f}" y="{y + 4:.1f}" width="{w:.2f}" height="{row_h - 8:.1f}" '
                f'fill="{colours[j % len(colours)]}"/>'
            )
            if w > 22:
                body.append(
                    f'<text x="{seg_x + w / 2:.1f}" y="{y + 12.5:.1f}" font-size="8" fill="#ffffff" '
                    f'text-anchor="middle">{count * 100 / total:.0f}%</text>'
                )
            seg_x += w
        body.append(
            f'<text x="{plot_x + plot_w + 3:.1f}" y="{y + 13:.1f}" font-size="8.5" fill="{INK}">'
            f"{total}</text>"
        )
    return _svg(width, height, body, title)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: float = 480,
    height: float = 200,
) -> Markup:
    """Lines with dots and values, one per series, over categorical x labels (months)."""
    left, right, top, bottom = 34.0, 12.0, 22.0, 26.0
    plot_w, plot_h = width - left - right, height - top - bottom
    step_value = _nice(max([v for _, values in series for v in values] + [1.0]) / 4)
    step_value = float(max(1, math.ceil(step_value)))  # counts: whole-number grid lines
    top_value = step_value * 4
    body: list[str] = []
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h * (1 - k / 4)
        body.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{width - right:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="0.5"/>'
        )
        body.append(
            f'<text x="{left - 4:.1f}" y="{y + 3:.1f}" font-size="8" fill="{INK}" text-anchor="end">'
            f"{esc(_fmt(value, False))}</text>"
        )
    n = len(x_labels)
    step = plot_w / max(n - 1, 1)

    def px(i: int) -> float:
        return left + (step * i if n > 1 else plot_w / 2)

    for i, label in enumerate(x_labels):
        body.append(
            f'<text x="{px(i):.1f}" y="{height - 10:.1f}" font-size="9" fill="{INK}" '
            f'text-anchor="middle">{esc(label)}</text>'
        )
    lx = left
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        body.append(f'<rect x="{lx:.1f}" y="4" width="12" height="3" fill="{colour}"/>')
        body.append(f'<text x="{lx + 15:.1f}" y="9" font-size="9" fill="{INK}">{esc(name)}</text>')
        lx += 15 + text_width(str(name), 9) + 14
        points = [(px(i), top + plot_h * (1 - v / top_value)) for i, v in enumerate(values)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        for i, ((x, y), v) in enumerate(zip(points, values, strict=True)):
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.4" fill="{colour}"/>')
            if any(i < len(other) and other[i] == v for _, other in series[:s]):
                continue  # an earlier series already labels this point
            body.append(
                f'<text x="{x:.1f}" y="{y - 5:.1f}" font-size="8" fill="{colour}" text-anchor="middle">'
                f"{esc(_fmt(v, False))}</text>"
            )
    return _svg(width, height, body, title)


def _nice(value: float) -> float:
    """Round an axis maximum up to 1, 2, 2.5 or 5 × 10^k so grid labels are readable."""
    exp = 10 ** math.floor(math.log10(value)) if value > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * exp:
            return m * exp
    return 10 * exp


# -- charts of the execution report -----------------------------------------------------------------
def dimension_chart(dist: RatingDistribution) -> Markup:
    return stacked_bars(
        [d.label for d in dist.dimensions],
        dist.scale_labels,
        [d.counts for d in dist.dimensions],
        title="各评价维度等级分布",
    )


def unit_rating_chart(dist: RatingDistribution) -> Markup:
    return stacked_bars(
        [u.label for u in dist.units],
        dist.scale_labels,
        [u.counts for u in dist.units],
        title="各教学单位课堂教学评价等级分布",
    )


def unit_observation_chart(dist: RatingDistribution) -> Markup:
    return bar_chart(
        [u.label for u in dist.units], [float(u.records) for u in dist.units], title="各教学单位被听课次数"
    )


def rule_compliance_chart(stats: SemesterStatistics) -> Markup:
    rules = [r for r in stats.rule_summary if r.applicable > 0]
    return bar_chart(
        [f"{r.rule_id} {r.label}" for r in rules],
        [r.ok / r.applicable for r in rules],
        title="各条规定完成率",
        percent=True,
        max_value=1.0,
    )


def trend_chart(months: Sequence[MonthPoint]) -> Markup:
    labels = [f"{int(m.month[5:7])}月" for m in months]
    return line_chart(
        labels,
        [
            ("听课记录", [float(m.observations) for m in months]),
            ("听课人次", [float(m.observer_counts) for m in months]),
            ("巡查次数", [float(m.patrols) for m in months]),
        ],
        title="月度听课趋势",
    )


def report_charts(stats: SemesterStatistics) -> dict[str, Markup]:
    """All charts the execution report shows, keyed by the template's names."""
    return {
        "rules": rule_compliance_chart(stats),
        "dimensions": dimension_chart(stats.ratings),
        "unit_ratings": unit_rating_chart(stats.ratings),
        "unit_observations": unit_observation_chart(stats.ratings),
        "trend": trend_chart(stats.trend),
    }
