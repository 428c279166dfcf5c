"""The web's 'open a case' from a risk row tells the investigation deadline of the configured clock profile, not a
fixed 10 working days. Dates counted by hand from Monday 2 March 2026 (the 1st working day is Tuesday 3 March;
no bank holiday in March 2026)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from tests.dashboard.test_cases import add_home

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # Monday


@pytest.mark.parametrize(("investigate_days", "due"), [(None, "Monday 16 March 2026"), (20, "Monday 30 March 2026")])
def test_open_from_risk_says_when_the_investigation_is_due(app, client_request, staff, tmp_path, monkeypatch,
                                                           investigate_days, due):
    if investigate_days is not None:
        path = tmp_path / "profiles.json"
        path.write_text(json.dumps({"wales_whqs": {"investigate_working_days": investigate_days,
                                                   "rules_version": "Ours, 2026"}}), encoding="utf-8")
        monkeypatch.setenv("DAMPWATCH_CLOCK_PROFILE", "wales_whqs")
        monkeypatch.setenv("DAMPWATCH_CLOCK_PROFILES_FILE", str(path))
    with time_machine.travel(NOW, tick=False):
        client_request.login(staff.officer)
        add_home(app, score=0.82)
        page = client_request.post("cases.open_from_risk", uprn="1001", _follow_redirects=True, _expected_status=200)
    banner = " ".join(page.select_one(".govuk-notification-banner").get_text(" ").split())
    assert f"Case 1 opened. The investigation is due by {due}." in banner
    assert "10 working days" not in banner


@pytest.mark.parametrize(("investigate_days", "words"), [
    (None, "within 24 hours. Otherwise the investigation is due within 10 working days (England, social housing"),
    (15, "within 24 hours. Otherwise the investigation is due within 15 working days (Wales, WHQS 2023"),
])
def test_the_new_case_form_gives_the_configured_profiles_numbers(client_request, tmp_path, monkeypatch,
                                                                 investigate_days, words):
    if investigate_days is not None:
        path = tmp_path / "profiles.json"
        path.write_text(json.dumps({"wales_whqs": {"investigate_working_days": investigate_days,
                                                   "rules_version": "Ours, 2026"}}), encoding="utf-8")
        monkeypatch.setenv("DAMPWATCH_CLOCK_PROFILE", "wales_whqs")
        monkeypatch.setenv("DAMPWATCH_CLOCK_PROFILES_FILE", str(path))
    page = client_request.get("cases.new")
    assert words in " ".join(page.get_text(" ").split())
