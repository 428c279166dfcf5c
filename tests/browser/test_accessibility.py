"""axe-core finds no accessibility problems (WCAG 2.1 A and AA, and axe's best practices) on the journey's pages.

axe is the npm package ``axe-core`` from ``dashboard/frontend`` (pinned in its package-lock.json), loaded as
a same-origin script so the app's CSP stays on. Each page's full report is written to ``var/axe/<page>.json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from core.model import Inspection
from tests.browser.conftest import (
    LiveServer,
    axe_violations,
    book_inspection,
    describe_violations,
    open_page,
    sign_in,
    tenant_link,
)

pytestmark = pytest.mark.browser


@dataclasses.dataclass(frozen=True)
class Seeded:
    """A case waiting for its inspection, and a case whose inspection has findings."""

    uprn: str
    case_id: int
    inspection_id: int
    done_case_id: int


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> Seeded:
    """Two cases booked with the repair team; the second one's findings recorded."""
    from core.cases import record_finding

    uprn, done_uprn = live_server.uprns[0], live_server.uprns[1]
    case_id, inspection_id = book_inspection(live_server, uprn)
    done_case_id, done_inspection_id = book_inspection(live_server, done_uprn)
    with live_server.database.session() as session:
        record_finding(session, session.get(Inspection, done_inspection_id), {
            "mould_found": True, "severity": "moderate", "room_ids": [], "where_text": "Behind the wardrobe",
            "likely_cause": "unknown", "actions_taken": "Treated the mould",
            "follow_up_work": "Fit an extractor fan"}, live_server.staff.repair.email,
            at=dt.datetime.now(dt.UTC))
    return Seeded(uprn, case_id, inspection_id, done_case_id)


@pytest.fixture(scope="module")
def pages(browser, live_server: LiveServer) -> Iterator[Any]:
    """One signed-in page per staff role or a tenant (made on first use) and one signed-out page."""
    opened: dict[str | None, tuple[Any, list[str]]] = {}

    def page_for(role: str | None):
        if role not in opened:
            opened[role] = open_page(browser, live_server)
            page = opened[role][0]
            if role == "tenant":
                page.goto(tenant_link(live_server, live_server.uprns[2]))
                page.get_by_role("button", name="Continue").click()
                page.wait_for_url(lambda url: "/link/" not in url)
            elif role is not None:
                sign_in(page, live_server.staff.by_role(role))
        return opened[role][0]

    yield page_for
    problems = [problem for page, found in opened.values() for problem in found]
    for page, _ in opened.values():
        page.context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


#: (report name, who, endpoint, URL values from ``Seeded``, the button to press first to show errors)
PAGES = [
    ("sign-in", None, "auth.sign_in", {}, None),
    ("sign-in-errors", None, "auth.sign_in", {}, "Sign in"),
    ("risk-list", "officer", "main.risk_list", {}, None),
    ("property", "officer", "main.property_page", {"uprn": "uprn"}, None),
    ("case", "officer", "cases.case_page", {"case_id": "done_case_id"}, None),
    ("findings-form", "repair", "repair.findings", {"inspection_id": "inspection_id"}, None),
    ("findings-form-errors", "repair", "repair.findings", {"inspection_id": "inspection_id"}, "Save findings"),
    # The rest of the journey.
    ("book-inspection", "officer", "cases.schedule", {"case_id": "case_id"}, None),
    ("proposed-schedule", "officer", "cases.proposed_schedule", {}, None),
    ("case-list", "officer", "cases.case_list", {}, None),
    ("job-list", "repair", "repair.job_list", {}, None),
    ("manager-deadlines", "manager", "cases.manager", {}, None),
    ("manager-return", "manager", "awaab.returns", {}, None),
    ("open-case", "officer", "cases.case_page", {"case_id": "case_id"}, None),
    ("alarms", "officer", "alarms.alarm_list", {}, None),
    # The tenant's pages.
    ("tenant-home", "tenant", "tenant.home", {}, None),
    ("tenant-report", "tenant", "tenant.report", {}, None),
    ("tenant-report-errors", "tenant", "tenant.report", {}, "Send report"),
]


@pytest.mark.parametrize(("name", "role", "endpoint", "values", "press"), PAGES, ids=[row[0] for row in PAGES])
def test_axe_finds_no_violations(pages, live_server, seeded, name, role, endpoint, values, press):
    """axe-core reports no violations of WCAG 2.1 A/AA or best practice on the page."""
    page = pages(role)
    page.goto(live_server.url_for(endpoint, **{key: getattr(seeded, field) for key, field in values.items()}))
    if press:
        page.get_by_role("button", name=press, exact=True).click()
        page.locator(".govuk-error-summary").wait_for()
    violations = axe_violations(page, name)
    assert not violations, f"axe found problems on {name} ({page.url}):\n{describe_violations(violations)}"
