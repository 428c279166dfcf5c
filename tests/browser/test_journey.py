"""The main journey in a real browser: an officer goes from the risk list to a booked inspection, a repair
team member records findings, a manager downloads the evidence pack (issue 4's "done when").

Screenshots of each main page go to ``var/screenshots/`` for people to look at.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_case_at, save_screenshot, sign_in, sign_out, tenant_link

pytestmark = pytest.mark.browser


def test_sign_in_keeps_a_secure_session_cookie_over_localhost(page, live_server):
    """Chromium keeps the Secure, HttpOnly session cookie at http://localhost and the officer gets in."""
    page.goto("/sign-in")
    expect(page).to_have_title("Sign in – DampWatch")
    save_screenshot(page, "01-sign-in")
    sign_in(page, live_server.staff.officer)
    session = {cookie["name"]: cookie for cookie in page.context.cookies()}["dampwatch_session"]
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"
    expect(page.get_by_role("heading", level=1)).to_have_text("Homes at risk")


def test_the_page_uses_the_dashboards_own_styles_and_header(page, live_server):
    """GOV.UK Frontend's styles load from /assets with Arial; the header is DampWatch's, with no crown."""
    page.goto("/sign-in")
    font = page.locator("h1").evaluate("heading => getComputedStyle(heading).fontFamily")
    assert font.split(",")[0].strip().strip('"').lower() == "arial" and "GDS Transport" not in font
    header = page.locator("header")
    expect(header).to_contain_text("DampWatch")
    assert header.locator("svg, .govuk-header__logotype").count() == 0  # no crown, no GOV.UK logotype
    assert "GOV.UK" not in header.inner_text()
    button = page.get_by_role("button", name="Sign in")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 112, 60)"  # GOV.UK green


def _pdf_and_zip(page, case_id: int) -> tuple[bytes, list[str]]:
    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Download the evidence pack (PDF)").click()
    pdf = pdf_download.value
    assert pdf.suggested_filename == f"dampwatch-case-{case_id}-evidence.pdf"
    assert pdf.failure() is None
    body = Path(pdf.path()).read_bytes()
    with page.expect_download() as zip_download:
        page.get_by_role("link", name="Download the data (ZIP of CSV files)").click()
    archive = zip_download.value
    assert archive.suggested_filename == f"dampwatch-case-{case_id}-evidence.zip"
    with zipfile.ZipFile(archive.path()) as opened:
        assert opened.testzip() is None
        names = opened.namelist()
    return body, names


def test_officer_books_an_inspection_repair_records_findings_manager_downloads_evidence(page, live_server):
    """Risk list → property → open a case → book → repair member's findings → manager's evidence pack."""
    staff = live_server.staff

    # The officer's morning: the risk list, highest risk first.
    sign_in(page, staff.officer)
    expect(page).to_have_title(re.compile(r"^Homes at risk"))
    save_screenshot(page, "02-risk-list")
    row = page.locator("#risk-list tbody tr").first
    uprn = row.get_attribute("data-uprn")
    address = row.get_by_role("link").first.inner_text().strip()
    expect(row.get_by_role("button", name=f"Open a case for {address}")).to_be_visible()

    # The property page, and one click to open a case.
    row.get_by_role("link", name=address).click()
    expect(page).to_have_url(re.compile(rf"/properties/{uprn}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(address)
    save_screenshot(page, "03-property")
    page.locator("#open-case").get_by_role("button", name="Open a case").click()
    expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    case_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"Case {case_id} opened")
    expect(page.locator("#clocks")).to_contain_text("Investigate")
    save_screenshot(page, "04-case")

    # Book the inspection for the repair team on the first working day.
    page.get_by_role("link", name="Book an inspection").click()
    save_screenshot(page, "05-book-inspection")
    page.get_by_label("North team").check()
    day = live_server.next_working_day()
    page.get_by_label("Day").fill(str(day.day))
    page.get_by_label("Month").fill(str(day.month))
    page.get_by_label("Year").fill(str(day.year))
    page.get_by_role("button", name="Book inspection").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Inspection booked with North team")
    expect(page.locator("#inspections + table")).to_contain_text("North team")

    sign_out(page)

    # The repair team member's job list and the findings form.
    sign_in(page, staff.repair)
    expect(page.get_by_role("heading", level=1)).to_have_text("Inspection jobs: North team")
    save_screenshot(page, "07-job-list")
    page.get_by_role("link", name=f"Record findings for {address}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Record findings at {address}")
    save_screenshot(page, "08-findings-form")
    page.get_by_role("button", name="Save findings").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select yes if you found mould or damp")
    save_screenshot(page, "09-findings-form-errors")
    page.get_by_role("group", name="Did you find mould or damp?").get_by_label("Yes").check()
    page.get_by_role("group", name="How severe is it?").get_by_label(re.compile(r"Moderate")).check()
    rooms = page.get_by_role("group", name="Which rooms?").get_by_role("checkbox")
    rooms.first.check()
    page.get_by_label("Where else, or exactly where").fill("Behind the wardrobe on the outside wall")
    page.get_by_role("group", name="What is the likely cause?").get_by_role("radio").first.check()
    page.get_by_label("What did you do today?").fill("Treated the mould and cleared the trickle vents")
    page.get_by_label("What follow-up work is needed?").fill("Fit an extractor fan in the bathroom")
    page.get_by_role("button", name="Save findings").click()
    expect(page).to_have_url(re.compile(r"/jobs/$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"Findings saved for {address}")
    sign_out(page)

    # The manager: deadlines, then the case and its evidence pack.
    sign_in(page, staff.manager)
    page.get_by_role("link", name="Deadlines").click()
    save_screenshot(page, "10-manager-deadlines")
    page.get_by_role("link", name="Cases", exact=True).click()
    page.get_by_role("link", name=f"Case {case_id}", exact=True).click()
    expect(page.locator("#findings ~ dl").first).to_contain_text("Treated the mould")
    save_screenshot(page, "11-case-with-findings")
    pdf, names = _pdf_and_zip(page, case_id)
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    assert len(pdf) > 10_000  # a pack with charts, not an empty page
    assert any(name.endswith(".csv") for name in names), names


def test_officer_accepts_the_proposed_schedule(page, live_server):
    """A case waiting for an inspection is proposed for the team and booked by accepting the schedule."""
    sign_in(page, live_server.staff.officer)
    row = page.locator("#risk-list tbody tr").last
    uprn = row.get_attribute("data-uprn")
    case_id = open_case_at(live_server, uprn)
    page.get_by_role("link", name="Inspection schedule").click()
    proposal = page.locator(f"#proposals tbody tr[data-uprn='{uprn}']")
    expect(proposal).to_contain_text(f"Case {case_id}")
    save_screenshot(page, "06-proposed-schedule")
    page.get_by_role("button", name="Accept and book inspections").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("booked for North team")
    page.goto(live_server.url_for("cases.case_page", case_id=case_id))
    expect(page.locator("#inspections + table")).to_contain_text("North team")


def test_tenant_signs_in_with_a_one_time_link_and_sees_their_home(page, live_server):
    """A tenant's one-time link leads to their home's page and the "Report damp or mould" form."""
    page.goto(tenant_link(live_server, live_server.uprns[0]))
    save_screenshot(page, "12-tenant-link")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your home")
    save_screenshot(page, "13-tenant-home")
    page.get_by_role("link", name="Report damp or mould").click()
    expect(page).to_have_url(re.compile(r"/tenant/report$"))
    save_screenshot(page, "14-tenant-report")
