"""The report's SVG charts: well-formed, labels kept as (escaped) text, bars proportional to values."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from lti_tool.reports import charts

NS = "{http://www.w3.org/2000/svg}"
EVIL = "交通</text><script>alert(1)</script>&\"学院'"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text")]


def test_bar_chart_escapes_labels_and_scales_bars() -> None:
    svg = charts.bar_chart([EVIL, "马克思主义学院"], [2.0, 4.0], title="各单位<听课>")
    root = _parse(svg)  # would raise on broken markup
    assert not list(root.iter(f"{NS}script"))
    assert root.find(f"{NS}title").text == "各单位<听课>"  # type: ignore[union-attr]
    assert any(t.startswith("交通</text><script>") for t in _texts(root))
    bars = [float(r.get("width", "0")) for r in root.iter(f"{NS}rect")]
    assert len(bars) == 2 and abs(bars[1] - 2 * bars[0]) < 0.2
    assert root.get("font-family") == "Noto Sans CJK SC"


def test_stacked_bars_show_shares_per_level() -> None:
    svg = charts.stacked_bars(
        ["教学态度", "教学效果"], ["优", "良", "中", "差"], [(1, 2, 0, 0), (0, 0, 0, 0)], title="分布"
    )
    root = _parse(svg)
    texts = _texts(root)
    assert {"优", "良", "中", "差", "教学态度", "教学效果"} <= set(texts)
    assert "33%" in texts and "67%" in texts
    segments = [r for r in root.iter(f"{NS}rect") if r.get("height") != "9"]  # not legend swatches
    widths = sorted(float(r.get("width", "0")) for r in segments if r.get("fill") != "none")
    assert abs(widths[1] - 2 * widths[0]) < 0.2


def test_line_chart_has_one_polyline_per_series_and_month_labels() -> None:
    svg = charts.line_chart(
        ["9月", "10月", "11月"], [("听课记录", [2, 5, 1]), ("巡查次数", [1, 1, 1])], title="趋势"
    )
    root = _parse(svg)
    assert len(list(root.iter(f"{NS}polyline"))) == 2
    assert {"9月", "10月", "11月", "听课记录", "巡查次数", "5"} <= set(_texts(root))


def test_long_labels_are_clipped() -> None:
    long = "一个名字非常非常非常非常非常非常非常非常长的教学单位"
    root = _parse(charts.bar_chart([long], [1.0], title="t", width=300))
    label = next(t for t in _texts(root) if t.startswith("一个"))
    assert label.endswith("…") and len(label) < len(long)
