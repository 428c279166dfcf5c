"""The officer's workspace in a real browser: portfolio → block → home → chart event → case, axe, keyboard.

Runs against the live server (production settings, CSP on) on the six-home simulated estate. Screenshots
go to ``var/screenshots/`` (``workspace-*.png``) for people to look at.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from core.model import Case, Property
from core.model_alerts import Alarm, OutboxMessage
from tests.browser.conftest import (
    LiveServer,
    axe_violations,
    describe_violations,
    open_page,
    save_screenshot,
    sign_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def workspace(live_server: LiveServer) -> dict[str, Any]:
    """A failed and a held outbox message, a silent-sensor alarm at the first home, and its estate's name."""
    now = dt.datetime.now(dt.UTC)
    uprn = live_server.uprns[0]
    with live_server.database.session() as session:
        site = session.get(Property, uprn).site
        session.add_all([
            OutboxMessage(channel="email", recipient="sam@example.org", uprn=uprn, message_type="risk_band",
                          body="b", dedup_key="browser-failed", status="failed", attempts=5,
                          last_error="550 mailbox unavailable"),
            OutboxMessage(channel="sms", recipient="07700900123", uprn=uprn, message_type="risk_band", body="b",
                          dedup_key="browser-held", status="pending", not_before=now + dt.timedelta(hours=9)),
        ])
        session.add(Alarm(rule="sensor_silent", subject_key="device:browser", uprn=uprn, device_id="browser",
                          severity="medium", raised_at=now - dt.timedelta(days=2)))
    assert site, "the simulated estate gives every home a site"
    return {"uprn": uprn, "site": site}


def test_journey_summary_to_block_to_home_to_chart_to_case(browser, live_server, workspace):
    """A manager lands on the summary; an officer goes summary → block → home, reads a chart, opens a case."""
    page, problems = open_page(browser, live_server)
    try:
        sign_in(page, live_server.staff.manager)
        expect(page.get_by_role("heading", name="Portfolio summary", level=1)).to_be_visible()
        page.get_by_role("button", name=re.compile("^Sign out")).click()
        page.wait_for_url(re.compile("/sign-in"))

        sign_in(page, live_server.staff.officer)
        page.get_by_role("link", name="Portfolio", exact=True).click()
        expect(page.locator("#weeks tbody tr")).to_have_count(12)
        save_screenshot(page, "workspace-portfolio-summary")
        page.locator("#site-list").get_by_role("link", name=workspace["site"], exact=True).click()
        expect(page.get_by_role("heading", name=workspace["site"], level=1)).to_be_visible()
        save_screenshot(page, "workspace-estate")
        home = page.locator(f'#site-homes tr[data-uprn="{workspace["uprn"]}"] a').first
        home.click()
        page.wait_for_url(re.compile(rf"/properties/{workspace['uprn']}"))

        area = page.locator("#chart-area")
        expect(area).to_have_attribute("data-charts-ready", re.compile(r"^[1-9]"))
        expect(page.locator(".dampwatch-chart-help")).to_be_visible()
        first = page.locator(".dampwatch-chart-interactive").first
        expect(first.locator("canvas")).to_have_count(3)
        # Hover the middle of the humidity panel: its legend shows a value in per cent.
        overlay = first.locator(".u-over").nth(1)
        overlay.scroll_into_view_if_needed()
        box = overlay.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
        legend = first.locator(".uplot").nth(1).locator(".u-legend")
        expect(legend).to_contain_text(re.compile(r"\d+ %"))
        # The silent sensor is an event: listed in words, and the marks are drawn on the canvas.
        expect(page.locator('#chart-events li[data-kind="sensor_silent"]')).to_have_count(1)
        # Drag across the temperature panel to zoom into a period, as an officer looking at a shower would.
        temp = first.locator(".u-over").nth(0)
        temp.scroll_into_view_if_needed()
        tbox = temp.bounding_box()
        chart = first.locator(".uplot").first
        before = chart.get_attribute("data-x-range")
        page.mouse.move(tbox["x"] + tbox["width"] * 0.4, tbox["y"] + 20)
        page.mouse.down()
        page.mouse.move(tbox["x"] + tbox["width"] * 0.6, tbox["y"] + 20, steps=10)
        page.mouse.up()
        expect(chart).not_to_have_attribute("data-x-range", before or "")
        low, high = (float(v) for v in chart.get_attribute("data-x-range").split("-"))
        full_low, full_high = (float(v) for v in before.split("-"))
        assert full_low < low < high < full_high, "dragging across the chart zooms into a shorter period"
        save_screenshot(page, "workspace-property-interactive-charts")

        page.locator("#open-case").get_by_role("button", name="Open a case").click()
        page.wait_for_url(re.compile(r"/cases/\d+"))
        case_id = int(re.search(r"/cases/(\d+)", page.url).group(1))
        with live_server.database.session() as session:
            case = session.get(Case, case_id)
            assert (case.uprn, case.status) == (workspace["uprn"], "open")
    finally:
        page.context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


def test_the_property_page_without_javascript(browser, live_server, workspace):
    """With JavaScript off the server's chart image (with alt text) and the table are there and visible."""
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, live_server.staff.officer)
        page.goto(live_server.url_for("main.property_page", uprn=workspace["uprn"]))
        image = page.locator("#chart-area figure img").first
        expect(image).to_be_visible()
        assert image.get_attribute("alt")
        expect(page.locator(".dampwatch-chart-interactive")).to_have_count(0)
        expect(page.locator(".dampwatch-chart-help")).to_be_hidden()
    finally:
        context.close()


WORKSPACE_PAGES = [
    ("workspace-summary", "manager", "portfolio.summary", {}),
    ("workspace-estate", "officer", "portfolio.site", {"site": "site"}),
    ("workspace-outbox", "officer", "outbox.problems", {}),
    ("workspace-outbox-admin", "admin", "outbox.problems", {}),
    ("workspace-risk-list", "officer", "main.risk_list", {}),
    ("workspace-property-charts", "officer", "main.property_page", {"uprn": "uprn"}),
]


@pytest.mark.parametrize(("name", "role", "endpoint", "values"), WORKSPACE_PAGES, ids=[p[0] for p in WORKSPACE_PAGES])
def test_axe_on_workspace_pages(browser, live_server, workspace, name, role, endpoint, values):
    """axe-core finds no violation on the new pages (the property page with its interactive charts drawn)."""
    page, problems = open_page(browser, live_server)
    try:
        sign_in(page, live_server.staff.by_role(role))
        page.goto(live_server.url_for(endpoint, **{key: workspace[field] for key, field in values.items()}))
        if endpoint == "main.property_page":
            expect(page.locator("#chart-area")).to_have_attribute("data-charts-ready", re.compile(r"^[1-9]"))
        violations = axe_violations(page, name)
        assert not violations, f"axe found problems on {name}:\n{describe_violations(violations)}"
        if name in ("workspace-outbox", "workspace-risk-list"):
            save_screenshot(page, name)
    finally:
        page.context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


def test_keyboard_reaches_a_block_and_sends_a_message_again(browser, live_server, workspace):
    """Tab to an estate's link and press Enter; on the outbox, Tab to "Send again" and press Enter."""
    page, problems = open_page(browser, live_server)
    try:
        sign_in(page, live_server.staff.officer)
        page.goto(live_server.url_for("portfolio.summary"))
        target = workspace["site"]
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.textContent.trim()") == target:
                break
        else:
            pytest.fail(f"Tab never reached the link to {target}")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name=target, level=1)).to_be_visible()

        page.goto(live_server.url_for("outbox.problems"))
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.textContent.trim()").startswith("Send again"):
                break
        else:
            pytest.fail("Tab never reached a Send again button")
        page.keyboard.press("Enter")
        expect(page.locator(".govuk-notification-banner")).to_contain_text("will be sent again")
        with live_server.database.session() as session:
            status = session.query(OutboxMessage.status).filter(OutboxMessage.dedup_key == "browser-failed").scalar()
        assert status == "pending"
    finally:
        page.context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)
