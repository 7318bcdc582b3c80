"""The HTML report in a real headless Chromium, opened from file://: filters, search, sorting, print,
no network request, hostile evidence rendered as text. Saves docs/report-screenshot.png."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import require_service
from report_samples import HOSTILE, make_report, sample_findings

from impax_preflight.report.diff import diff_reports
from impax_preflight.report.html import write_html

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report-screenshot.png"


@pytest.fixture(scope="module")
def browser():
    require_service(shutil.which("chromium") is not None, "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, tmp_path):
    old = make_report(sample_findings(tablespace_free_gb=3.4))
    report = make_report()
    report = report.model_copy(update={"baseline": diff_reports(old, report)})
    path = write_html(report, tmp_path)
    pg = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    url = path.as_uri()
    pg.goto(url)
    pg.wait_for_load_state("load")
    yield pg, url, requests, errors
    pg.close()


def visible_checks(pg) -> list[str]:
    return pg.eval_on_selector_all("tr.row:not([hidden]) td:nth-child(3) code", "els => els.map(e => e.textContent)")


def count_text(pg) -> str:
    return pg.locator("#f-count").inner_text()


@pytest.mark.service
def test_offline_and_hostile_text_is_inert(page):
    pg, url, requests, errors = page
    assert requests == [url], "the report made a request other than loading itself"
    assert errors == []
    assert pg.evaluate("window.pwned") is None
    pg.locator("#findings tr.row", has_text="fmadm reports a faulted DIMM").locator("summary").click()
    out = pg.locator("pre.ev-out", has_text="window.pwned").first
    assert out.is_visible() and out.inner_text() == HOSTILE
    assert pg.locator("pre.ev-out img").count() == 0 and pg.locator("#findings script").count() == 0
    assert pg.evaluate("window.pwned") is None
    assert pg.locator("#verdict").inner_text() == "NO-GO"


@pytest.mark.service
def test_status_filter_search_host_and_sort(page):
    pg, url, requests, errors = page
    assert len(visible_checks(pg)) == 10 and count_text(pg) == "10 of 10 findings shown"
    # status: FAIL only
    for s in ("error", "warn", "waived", "pass", "skipped"):
        pg.locator(f"#filters input[value={s}]").uncheck()
    assert sorted(visible_checks(pg)) == ["integrity.study_uid", "os.fmadm_faulty", "prereq.dotnet35sp1"]
    assert count_text(pg) == "3 of 10 findings shown"
    # host sections without a visible finding disappear (bk-app1 has no failure)
    assert pg.locator('section.host[data-host="bk-app1"]').is_hidden()
    assert pg.locator('section.group[data-group="bk"]').is_hidden()
    # "Problems only" then free text, which also searches the evidence
    pg.locator("#f-problems").click()
    assert len(visible_checks(pg)) == 5
    pg.locator("#f-text").fill("dba_free_space")  # only in the SQL evidence of the tablespace check
    pg.locator("#f-text").press("Enter")
    assert visible_checks(pg) == ["oracle.tablespace_free"]
    pg.locator("#f-text").fill("no such thing anywhere")
    pg.locator("#f-text").press("Enter")
    assert visible_checks(pg) == [] and pg.locator("#f-none").is_visible()
    # reset, then host and severity
    pg.locator("#f-reset").click()
    pg.locator("#f-host").select_option("prod-db1")
    assert sorted(visible_checks(pg)) == ["db.version", "integrity.study_uid", "oracle.tablespace_free"]
    pg.locator("#f-severity").select_option("info")
    assert visible_checks(pg) == ["db.version"]
    pg.locator("#f-reset").click()
    # sortable columns: Check column of prod-db1, ascending then descending
    table = pg.locator('section.host[data-host="prod-db1"] table.findings')
    header = table.locator("th", has_text="Check")
    header.click()
    asc = table.locator("td:nth-child(3) code").all_inner_texts()
    assert asc == sorted(asc) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert table.locator("td:nth-child(3) code").all_inner_texts() == sorted(asc, reverse=True)
    assert errors == [] and requests == [url]


@pytest.mark.service
def test_blocker_link_reveals_a_filtered_finding(page):
    pg, *_ = page
    pg.locator("#f-text").fill("zzz")
    pg.locator("#f-text").press("Enter")
    pg.locator("#blockers a.b-check", has_text="prereq.dotnet35sp1").click()
    row = pg.locator("tr.row", has_text="prereq.dotnet35sp1")
    row.wait_for(state="visible", timeout=10_000)  # the click's handler may run a moment later on a busy machine
    assert row.is_visible() and row.locator("details").get_attribute("open") is not None


@pytest.mark.service
def test_print_shows_all_evidence_and_sign_off(page):
    pg, *_ = page
    # filter some rows away on screen: the printed document is still complete
    pg.locator("#f-problems").click()
    src = pg.locator("tr.row", has_text="db.version").locator("pre.ev-src")
    assert src.is_hidden()
    pg.emulate_media(media="print")
    assert src.is_visible(), "closed <details> evidence must print"
    assert pg.locator("#filters").is_hidden()
    assert pg.locator("#signoff table.sign").is_visible()
    assert pg.evaluate("getComputedStyle(document.querySelector('section.host[data-host=prod-db1]')).breakBefore") == "page"
    pg.emulate_media(media="screen")
    assert src.is_hidden()


@pytest.mark.service
def test_screenshot(page, tmp_path):
    pg, *_ = page
    target = SCREENSHOT if (not SCREENSHOT.exists() or os.environ.get("IMPAX_PREFLIGHT_UPDATE_SCREENSHOT") == "1") else tmp_path / "shot.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    pg.evaluate("window.scrollTo(0, 0)")
    pg.screenshot(path=str(target), full_page=False)
    assert 10_000 < target.stat().st_size < 300_000
