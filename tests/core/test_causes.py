"""The one cause table: every cause has its words in every language, and every box reads the same list."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from core.causes import CAUSE_TABLE, CAUSES, FINDING_CAUSES, UnknownCause, cause_from_finding, check_cause

ROOT = Path(__file__).resolve().parents[2]

#: Written by hand: the causes DESIGN.md and the issue name, and what an inspector records for each.
EXPECTED = {
    "poor_ventilation": "ventilation",
    "high_moisture_load": "moisture_load",
    "under_heating": "under_heating",
    "cold_fabric": "cold_fabric",
    "leak": "leak",
}


def test_the_table_holds_the_five_causes_and_their_finding_codes():
    """The codes and the inspector's codes are the five written above, once each."""
    assert {row.code: row.finding_code for row in CAUSE_TABLE} == EXPECTED
    assert len(set(CAUSES)) == len(CAUSES) == 5
    assert set(FINDING_CAUSES) == set(EXPECTED.values()) | {"other", "unknown"}


@pytest.mark.parametrize("code", list(EXPECTED))
def test_every_cause_has_its_officer_words(code):
    """analytics/wording.toml names the cause, states its evidence and says what would help."""
    words = tomllib.loads((ROOT / "analytics" / "wording.toml").read_text(encoding="utf-8"))
    row = next(r for r in CAUSE_TABLE if r.code == code)
    assert words["cause"][code].strip()
    assert words["help"][code].strip()
    assert words["reason"][row.reason_key].strip()


@pytest.mark.parametrize("language", sorted(p.stem for p in (ROOT / "alerts" / "templates" / "tenant").glob("*.toml")))
@pytest.mark.parametrize("code", list(EXPECTED))
def test_every_cause_has_a_tenant_message_in_every_language(code, language):
    """Each tenant language file has the message the cause sends, with a subject, body and text message."""
    row = next(r for r in CAUSE_TABLE if r.code == code)
    words = tomllib.loads((ROOT / "alerts" / "templates" / "tenant" / f"{language}.toml").read_text(encoding="utf-8"))
    message = words[row.tenant_message]
    for part in ("subject", "body", "sms"):
        assert message[part].strip(), (language, code, part)


def test_every_box_reads_the_same_list():
    """Analytics, the simulator, alerts, the app database and the outcomes labels use the table."""
    from alerts.messages import CAUSE_MESSAGES
    from analytics.risk import CAUSES as ANALYTICS_CAUSES
    from core.cases import LABEL_CAUSES
    from core.model import LIKELY_CAUSES
    from simulator import CAUSES as SIMULATOR_CAUSES

    assert tuple(ANALYTICS_CAUSES) == tuple(SIMULATOR_CAUSES) == CAUSES
    assert set(CAUSE_MESSAGES) == set(CAUSES)
    assert tuple(LIKELY_CAUSES) == FINDING_CAUSES
    assert {LABEL_CAUSES[finding] for finding in EXPECTED.values()} == set(CAUSES)


def test_dashboard_labels_every_finding_cause():
    """The inspector's form offers a label for every likely cause of the table."""
    from dashboard.views.cases import CAUSE_LABELS

    assert set(FINDING_CAUSES) <= set(CAUSE_LABELS)


def test_unknown_causes_are_refused_with_the_known_ones_named():
    """A misspelt cause is an error that lists the codes, not a silent zero."""
    with pytest.raises(UnknownCause, match="poor_ventilation"):
        check_cause("ventilaton")
    assert check_cause("ventilation") == "poor_ventilation"
    assert cause_from_finding("unknown") == ""
    with pytest.raises(UnknownCause):
        cause_from_finding("mould")
