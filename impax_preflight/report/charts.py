"""The HTML report's pictures of the run history: inline SVG drawn with pygal, no script, no URL.

Drawn from `RunReport.history` (never from the store), so a re-rendered report.json gives the same
pictures. Each chart is an inline ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that says
in words what the picture shows, for screen readers and for anyone reading the printed copy in
black and white. pygal is imported only when a report with a history is rendered.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from ..model import HistorySeries, RunHistory
from .merge import GROUP_ORDER, STAGE_LABELS, STAGES

#: Colours per stage (site-wide, DR, BK, Prod, unknown tier), matching the report's palette.
STAGE_COLOURS = {"site": "#6b1d1d", "dr": "#b3261e", "bk": "#c76a00", "prod": "#3b6fb6", "unknown": "#666666"}
SERIES_COLOURS = ("#3b6fb6", "#1b6b2f", "#c76a00", "#6b4fa0", "#00838f", "#8e3b00", "#5d6d1e", "#ad1457", "#37474f", "#7a5a00")
LIMIT_COLOUR = "#b3261e"
CHART_TITLES = {
    "tablespace_gb": "Usable space per tablespace (GB)",
    "backup_age_hours": "Age of the last full backup (hours)",
    "integrity_count": "Integrity problems found (rows)",
}
DASHED = {"width": 2, "dasharray": "6, 4"}


def stage_name(key: str) -> str:
    """A stage inside a sentence or a legend: "DR", "Prod", but "site-wide", "tier not recorded"."""
    label = STAGE_LABELS.get(key, key)
    return label if key in STAGES else label[:1].lower() + label[1:]


def run_totals(run: Any) -> tuple[int, int]:
    """(blockers, warnings) of one recorded run (a `HistoryRun`, or the store's run): its stages summed."""
    stages = run.stages.values()
    return sum(v.get("blockers", 0) for v in stages), sum(v.get("warnings", 0) for v in stages)


@dataclass
class Chart:
    """One picture of the report: its anchor id, title, text description and SVG markup."""

    id: str
    title: str
    description: str
    svg: str


def _naive_utc(v: datetime | date) -> datetime:
    # pygal's date axis wants naive datetimes; every time here is UTC
    if not isinstance(v, datetime):
        return datetime.combine(v, time(0, 0))
    return v.astimezone(timezone.utc).replace(tzinfo=None) if v.tzinfo else v


def _day(v: datetime) -> str:
    return v.strftime("%Y-%m-%d")


def _num(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")


def _style():
    from pygal.style import Style

    font = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
    return Style(background="white", plot_background="white", foreground="#333", foreground_strong="#1a1a1a",
                 foreground_subtle="#d6d6d6", opacity=".9", opacity_hover="1", transition="0ms", font_family=font,
                 label_font_family=font, major_label_font_family=font, legend_font_family=font, title_font_family=font,
                 value_font_family=font, tooltip_font_family=font, no_data_font_family=font,
                 label_font_size=11, major_label_font_size=11, legend_font_size=12, title_font_size=15, colors=SERIES_COLOURS)


def _new_chart(title: str, y_title: str, colours: list[str] | None = None):
    import pygal

    style = _style()
    if colours:
        style.colors = tuple(colours)
    return pygal.DateTimeLine(
        js=[],  # pygal's default loads its tooltip script from the web: the report makes no request
        title=title, y_title=y_title, style=style, width=960, height=360, explicit_size=False,
        legend_at_bottom=True, legend_at_bottom_columns=3, truncate_legend=-1, truncate_label=-1,
        x_value_formatter=_day, value_formatter=_num, x_label_rotation=30, show_x_guides=False,
        allow_interruptions=True, dots_size=3, stroke_style={"width": 2}, include_x_axis=True,
        print_values=False, no_data_text="no data")


def _whole_numbers(chart, values: list) -> None:
    """Counts: no 0.2-step guides on an axis of rows or findings."""
    top = max([v for v in values if v is not None] or [0])
    if top <= 12:
        chart.y_labels = list(range(0, int(top) + 2))


_UUID = re.compile(r'id="chart-([0-9a-f-]{36})"')
_ACTIVE = re.compile(r"<script|javascript:|href=|<foreignObject|\son[a-z]+=", re.I)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _inline_safe(root):
    """pygal xml filter: drop its <script> (configuration for a tooltip script the report never loads);
    give each point a <title>, which every browser shows on hover without any script."""
    for parent in list(root.iter()):
        for child in list(parent):
            if _local(child.tag) == "script":
                parent.remove(child)
    for group in root.iter():
        if _local(group.tag) != "g" or "dots" not in (group.get("class") or "").split():
            continue
        value = next((c for c in group if _local(c.tag) == "desc" and c.get("class") == "value"), None)
        if value is not None and value.text:
            title = group.makeelement(value.tag.replace("desc", "title"), {})
            title.text = value.text
            group.insert(0, title)
    return root


def _finish(chart, chart_id: str, title: str, description: str) -> Chart:
    """Render; give the SVG a stable id and an accessible name and description."""
    chart.add_xml_filter(_inline_safe)
    svg = chart.render(is_unicode=True, disable_xml_declaration=True)
    m = _UUID.search(svg)
    if m:  # pygal's id is chart-<uuid>; it also scopes pygal's CSS: replace every use
        svg = svg.replace(f"chart-{m.group(1)}", chart_id)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)  # pygal stamps the date of rendering: keep output stable
    svg = svg.replace("<svg ", f'<svg role="img" aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" ', 1)
    desc = f'<desc id="{chart_id}-desc">{html.escape(description, quote=False)}</desc>'
    if "<title>" in svg:
        svg = svg.replace("<title>", f'<title id="{chart_id}-title">', 1)
        svg = re.sub(r"(<title id=\"[^\"]+\">.*?</title>)", lambda mm: mm.group(1) + desc, svg, count=1, flags=re.S)
    else:  # pragma: no cover - pygal always writes the title it is given
        svg = svg.replace("</defs>", f'</defs><title id="{chart_id}-title">{html.escape(title, quote=False)}</title>{desc}', 1)
    if _ACTIVE.search(svg):
        raise ValueError("the chart SVG holds active content; refusing to inline it")
    return Chart(id=chart_id, title=title, description=description, svg=svg)


def burn_down(history: RunHistory) -> Chart | None:
    """Blockers and warnings per stage over the runs, toward the planned upgrade date."""
    runs = history.runs
    if len(runs) < 2:
        return None
    xs = [_naive_utc(r.started_at) for r in runs]
    stages = [s for s in GROUP_ORDER if any(s in r.stages for r in runs)]
    colours: list[str] = []
    chart_series: list[tuple[str, list, dict]] = []
    for kind, stroke in (("blockers", {"width": 3}), ("warnings", DASHED)):
        for s in stages:
            values = [r.stages.get(s, {}).get(kind, 0) for r in runs]
            if any(values):  # a stage without any in every run would only add a line at zero
                chart_series.append((f"{kind} {stage_name(s)}", values, stroke))
                colours.append(STAGE_COLOURS[s])
    totals, warn_totals = (list(t) for t in zip(*(run_totals(r) for r in runs)))
    upgrade = history.upgrade_date
    target_text = ""
    if upgrade is not None:
        end = _naive_utc(upgrade)
        days = (upgrade - runs[-1].started_at.date()).days
        if end > xs[0]:
            # the burn-down target: from the first run's blockers to none on the upgrade date
            chart_series.append((f"target: no blocker on {upgrade.isoformat()}", [(xs[0], totals[0]), (end, 0)],
                                 {"width": 1.5, "dasharray": "2, 5"}))
            colours.append("#1a1a1a")
        target_text = (f" The upgrade is planned for {upgrade.isoformat()}: "
                       + (f"{days} day{'s' if days != 1 else ''} after the last run." if days >= 0 else
                          f"{-days} day{'s' if days != -1 else ''} before the last run (the date has passed)."))
    title = "Burn-down: blockers and warnings per stage" + (f" to the upgrade on {upgrade.isoformat()}" if upgrade else "")
    chart = _new_chart(title, "findings", colours)
    _whole_numbers(chart, totals + warn_totals)
    if not chart_series:
        chart_series.append(("blockers", totals, {"width": 3}))
    for label, values, stroke in chart_series:
        points = values if values and isinstance(values[0], tuple) else list(zip(xs, values))
        chart.add(label, points, stroke_style=stroke)
    per_stage = ", ".join(f"{stage_name(s)} {runs[-1].stages.get(s, {}).get('blockers', 0)}" for s in stages
                          if any(r.stages.get(s, {}).get("blockers") for r in runs))
    description = (f"{len(runs)} runs from {_day(xs[0])} to {_day(xs[-1])}. Blockers went from {totals[0]} to {totals[-1]}"
                   f"{f' ({per_stage})' if per_stage else ''}; warnings from {warn_totals[0]} to {warn_totals[-1]}.{target_text}")
    return _finish(chart, "chart-burn-down", title, description)


def value_chart(history: RunHistory, name: str) -> Chart | None:
    """A measured value over the runs (tablespace GB, backup age, integrity counts), with its limit line."""
    runs = history.runs
    series = [s for s in history.series if s.chart == name and sum(p is not None for p in s.points) >= 1]
    if len(runs) < 2 or not series:
        return None
    xs = [_naive_utc(r.started_at) for r in runs]
    title = CHART_TITLES.get(name, name)
    unit = series[0].unit
    colours = [SERIES_COLOURS[i % len(SERIES_COLOURS)] for i in range(len(series))]
    limit = history.limits.get(name)
    if limit is not None:
        colours.append(LIMIT_COLOUR)
    chart = _new_chart(title, unit, colours)
    if name == "integrity_count":
        _whole_numbers(chart, [p for s in series for p in s.points])
    for s in series:
        chart.add(s.label, [(x, p) for x, p in zip(xs, s.points)])
    limit_text = ""
    if limit is not None:
        word = "minimum" if name == "tablespace_gb" else "limit"
        chart.add(f"{word} {_num(limit)} {unit}", [(xs[0], limit), (xs[-1], limit)], stroke_style=DASHED, show_dots=False)
        limit_text = f" The {word} is {_num(limit)} {unit}."
    description = f"{len(runs)} runs from {_day(xs[0])} to {_day(xs[-1])}. " + "; ".join(_series_text(s, unit) for s in series) + "." + limit_text
    return _finish(chart, f"chart-{name.replace('_', '-')}", title, description)


def _series_text(s: HistorySeries, unit: str) -> str:
    measured = [p for p in s.points if p is not None]
    first, last = measured[0], measured[-1]
    text = f"{s.label}: {_num(first)} → {_num(last)} {unit}"
    low, high = min(measured), max(measured)
    if s.chart == "tablespace_gb" and low < min(first, last):
        text += f" (lowest {_num(low)})"
    elif s.chart != "tablespace_gb" and high > max(first, last):
        text += f" (highest {_num(high)})"
    if s.points[-1] is None:
        text += ", not measured in the last run"
    return text


def build_charts(history: RunHistory | None) -> list[Chart]:
    """Every picture the history allows (none before the second run)."""
    if history is None or len(history.runs) < 2:
        return []
    charts = [burn_down(history)] + [value_chart(history, name) for name in CHART_TITLES]
    return [c for c in charts if c is not None]


def history_view(history: RunHistory | None) -> dict[str, Any] | None:
    """What the template shows around the pictures: the charts, the last runs, the countdown; or the reason
    there are no pictures (pygal missing, first run)."""
    if history is None:
        return None
    view: dict[str, Any] = {"history": history, "charts": [], "error": None, "recent": list(reversed(history.runs[-10:]))}
    try:
        view["charts"] = build_charts(history)
    except ImportError:
        view["error"] = "The trend charts need the pygal package (pip install pygal); the numbers are in the table below."
    except ValueError as exc:
        view["error"] = f"The trend charts could not be drawn: {exc}"
    if history.upgrade_date is not None and history.runs:
        view["days_left"] = (history.upgrade_date - history.runs[-1].started_at.date()).days
    return view
