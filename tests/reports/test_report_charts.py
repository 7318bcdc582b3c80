"""The history pictures of the HTML report: inline SVG with accessible names, no script, no request;
drawn in a real headless Chromium, on screen and in print."""

from __future__ import annotations

import re
import sys

import pytest
from history_samples import recorded_history
from test_report_browser import browser  # noqa: F401 - the same headless Chromium fixture

from impax_preflight.report.charts import build_charts, history_view
from impax_preflight.report.html import render_html, write_html

HOSTILE_SUBJECT = "<script>window.pwned=1</script>MVF&L\"'"
TITLES = {
    "chart-burn-down": "Burn-down: blockers and warnings per stage to the upgrade on 2024-06-01",
    "chart-tablespace-gb": "Usable space per tablespace (GB)",
    "chart-backup-age-hours": "Age of the last full backup (hours)",
    "chart-integrity-count": "Integrity problems found (rows)",
}


def test_charts_are_inline_svg_with_title_and_description(tmp_path):
    _, report = recorded_history(tmp_path / "h.sqlite", runs=6, label=HOSTILE_SUBJECT)
    charts = build_charts(report.history)
    assert [c.id for c in charts] == list(TITLES)
    for c in charts:
        assert c.title == TITLES[c.id]
        assert c.svg.startswith(f'<svg role="img" aria-labelledby="{c.id}-title" aria-describedby="{c.id}-desc" ')
        assert f'<title id="{c.id}-title">' in c.svg and f'<desc id="{c.id}-desc">' in c.svg
        assert not re.search(r"<script|href=|javascript:|<foreignObject", c.svg, re.I)
        assert "http://" not in c.svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in c.svg
    burn = charts[0]
    assert burn.description == ("6 runs from 2024-05-04 to 2024-05-19. Blockers went from 3 to 2 (DR 1, Prod 1); warnings from "
                                "2 to 2. The upgrade is planned for 2024-06-01: 13 days after the last run.")
    space = charts[1].description
    assert "prod-db1/mvf &lt;script&gt;" not in space  # the plain description; the SVG escapes it
    assert f"prod-db1/mvf {HOSTILE_SUBJECT}: 3.6 → 1.85 GB" in space and space.endswith("The minimum is 2 GB.")
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;MVF&amp;L" in charts[1].svg
    assert "(highest 30.5)" in charts[2].description
    # hovering a point shows its date and value without a script
    assert "<title>2024-05-19: 1.85</title>" in charts[1].svg


def test_no_pictures_before_the_second_run_and_without_pygal(tmp_path, monkeypatch):
    _, one = recorded_history(tmp_path / "one.sqlite", runs=1)
    assert build_charts(one.history) == []
    html = render_html(one)
    assert "This is the first recorded run of this site" in html and "<svg" not in html
    _, report = recorded_history(tmp_path / "h.sqlite", runs=3)
    monkeypatch.setitem(sys.modules, "pygal", None)  # as if the package were missing
    view = history_view(report.history)
    assert view["charts"] == [] and "need the pygal package" in view["error"]
    html = render_html(report)
    assert "need the pygal package" in html and "The last 3 runs" in html


@pytest.mark.service
def test_charts_render_in_chromium_offline_with_accessible_names(browser, tmp_path):
    _, report = recorded_history(tmp_path / "h.sqlite", runs=6, label=HOSTILE_SUBJECT)
    path = write_html(report, tmp_path)
    pg = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.goto(path.as_uri())
    pg.wait_for_load_state("load")
    for chart_id, title in TITLES.items():
        img = pg.get_by_role("img", name=title, exact=True)  # the accessible name from <title>
        assert img.count() == 1
        img.scroll_into_view_if_needed()
        box = img.bounding_box()
        assert box["width"] > 600 and box["height"] > 200, (chart_id, box)
        # the lines are really drawn: pygal's series paths with a non-empty geometry
        drawn = pg.evaluate(f"""Array.from(document.querySelectorAll('#{chart_id} .series path.line'))
                                  .filter(p => p.getBBox().width > 100).length""")
        assert drawn >= 1, chart_id
        description = pg.evaluate(f"document.getElementById('{chart_id}-desc').textContent")
        assert description.startswith("6 runs from 2024-05-04 to 2024-05-19.")
    # the burn-down reaches toward the upgrade date with its target line
    assert "target: no blocker on 2024-06-01" in pg.locator("#chart-burn-down").text_content()
    assert pg.evaluate("window.pwned") is None
    assert pg.locator("#history svg script").count() == 0
    assert pg.locator("#since-last summary", has_text="New blockers: 1").count() == 1
    assert requests == [path.as_uri()], "the report made a request other than loading itself"
    assert errors == []
    pg.emulate_media(media="print")
    for chart_id in TITLES:
        assert pg.locator(f"#{chart_id}").is_visible()
        assert pg.evaluate(f"getComputedStyle(document.getElementById('{chart_id}-figure')).breakInside") == "avoid"
    pg.close()
