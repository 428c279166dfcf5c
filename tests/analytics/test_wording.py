"""Tests for analytics.wording: the templates, their tone, and the explanations built from them."""

from __future__ import annotations

import math
import re
import string

import pytest

from analytics.errors import AnalyticsError
from analytics.psychrometrics import rh_for_surface_rh, temperature_for_surface_rh
from analytics.wording import (
    MissingRoom,
    PropertyFacts,
    RoomFacts,
    explain,
    render,
    templates,
    ventilation_label,
)

ALL_TEMPLATES = [
    f"{section}.{name}"
    for section, entries in templates().items()
    if isinstance(entries, dict)
    for name in entries
]

BATHROOM = RoomFacts(
    name="Bathroom", room_type="bathroom", mould_index=1.4, mould_index_trend=0.3, days_surface_rh_over_80=9,
    share_surface_rh_over_80=0.55, share_rh_over_70=0.4, mean_temperature_c=18.0, mean_humidity_pct=72.0,
    mean_outdoor_temperature_c=5.0, temperature_factor=0.75,
)


def facts(**overrides) -> PropertyFacts:
    """A high-risk, poorly ventilated home, with any field overridden."""
    values = {
        "band": "high", "cause": "poor_ventilation", "driver": BATHROOM, "cold_home": False,
        "mean_temperature_c": 18.5, "ventilation_room": "Bathroom", "ventilation_remaining": 0.3,
        "leak_room": None, "humidity_class": 4.0, "missing_rooms": (), "outdoor_climatology": False,
        "vulnerable": (), "window_days": 14,
    }
    return PropertyFacts(**{**values, **overrides})


@pytest.mark.parametrize("key", ALL_TEMPLATES)
def test_every_template_renders_with_its_placeholders(key):
    """Each template names only placeholders it can be given, and renders to a plain sentence."""
    section, name = key.split(".")
    text = templates()[section][name]
    names = {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(text)} - {None}
    rendered = render(key, **dict.fromkeys(names, "7"))
    assert "$" not in rendered
    assert rendered.strip() == rendered


@pytest.mark.parametrize("phrase", ["lifestyle", "your fault", "you must", "failure to", "tenant's fault", "blame",
                                    "careless", "should have"])
def test_no_template_blames_the_household(phrase):
    """The wording never blames tenants (Housing Ombudsman: "It's not lifestyle")."""
    for key in ALL_TEMPLATES:
        section, name = key.split(".")
        assert phrase not in templates()[section][name].lower(), key


def test_a_missing_value_is_an_error_not_a_blank():
    """Rendering without a placeholder's value raises AnalyticsError naming it."""
    with pytest.raises(AnalyticsError, match="room"):
        render("reason.surface_damp_days", days=3, window=14)


def test_an_unknown_template_is_an_error():
    """Asking for a template that does not exist raises AnalyticsError."""
    with pytest.raises(AnalyticsError, match="no template"):
        render("reason.no_such_thing")


def test_what_would_help_gives_the_cold_spot_targets_of_the_physics():
    """The humidity and temperature targets come from rh_for_surface_rh and temperature_for_surface_rh."""
    explanation = explain(facts())
    rh = math.floor(float(rh_for_surface_rh(18.0, 5.0, 0.75)))
    warm = math.ceil(float(temperature_for_surface_rh(18.0, 72.0, 5.0, 0.75)))
    first = explanation.help[0]
    assert f"Keeping the bathroom below {rh} % humidity (it averaged 72 %)" in first
    assert f"heating it to {warm} °C" in first
    assert "extractor fan" in explanation.help[2]  # after the humidity and the wall temperature targets


def test_reasons_a_housing_officer_can_read_aloud():
    """The reasons say what the cold spot went through, the mould index and the cause, in sentences."""
    reasons = explain(facts()).reasons
    assert reasons[0] == ("In the bathroom, the coldest wall was damp enough for mould to grow (above 80 % humidity) "
                          "on 9 of the last 14 days.")
    assert any("1.4 on a scale from 0 to 6" in r for r in reasons)
    assert any("gone up by 0.3" in r for r in reasons)
    assert any("about 30 % of the extra moisture" in r for r in reasons)
    assert all(re.match(r"^[A-Z].*[.)]$", r) for r in reasons)


def test_missing_rooms_climatology_and_vulnerability_are_explained():
    """Silent sensors, the fallback to typical weather and a vulnerable household each get a reason."""
    reasons = explain(facts(
        missing_rooms=(MissingRoom("Kitchen", 170.0, 0.5), MissingRoom("Bedroom 1", 2.0, 0.4)),
        outdoor_climatology=True, vulnerable=("child_under_15", "over_65"),
    )).reasons
    assert "The kitchen sensor has not sent readings for 7 days, so we cannot rule out damp there." in reasons
    assert "The Bedroom 1 sensor covered only 40 % of the last 14 days, so we cannot rule out damp there." in reasons
    assert any("typical UK outdoor temperatures" in r for r in reasons)
    assert any("(a child under 15 and someone over 65)" in r for r in reasons)


def test_a_home_without_readings_says_so_and_asks_for_the_sensors_to_be_checked():
    """No driver room and insufficient data: one reason, and the sensor check as the help."""
    explanation = explain(facts(band="insufficient data", cause="", driver=None))
    assert explanation.reasons == [render("reason.no_sensors")]
    assert explanation.help == [render("help.insufficient")]


def test_a_low_risk_home_needs_nothing_now():
    """Low band: no cause and the reassuring help."""
    explanation = explain(facts(band="low", cause="", vulnerable=("over_65",)))
    assert explanation.help == [render("help.low")]
    assert not any("more at risk" in r for r in explanation.reasons)


def test_a_cold_home_is_signposted_to_support():
    """Under-heating reasons give the home's temperature and point to help with energy costs."""
    explanation = explain(facts(cause="under_heating", cold_home=True, mean_temperature_c=14.2))
    assert any("averaged 14.2 °C" in r for r in explanation.reasons)
    assert any("energy" in h for h in explanation.help)


@pytest.mark.parametrize(("score", "label"), [(95.0, "good"), (60.0, "fair"), (20.0, "poor"), (float("nan"), None)])
def test_ventilation_labels(score, label):
    """Ventilation scores read as good, fair or poor."""
    assert ventilation_label(score) == label


def test_the_wall_temperature_that_stops_growth_is_given():
    """18 °C and 72 % hold 1486 Pa of vapour; the wall must stay above the 1857 Pa dew point, 16.3 °C (to 16.5),
    against 5 + 0.75 x 13 = 14.75 °C now."""
    explanation = explain(facts())
    assert ("Mould stops growing on the coldest wall of the bathroom if that wall stays above 16.5 °C "
            "(it averaged 14.8 °C)") in " ".join(explanation.help)


def test_days_to_visible_mould_are_in_the_reasons():
    """A driver room whose index rises gets the projected days to index 1 and 3."""
    import dataclasses as dc

    base = facts()
    driver = dc.replace(base.driver, days_to_mould_1=20.0, days_to_mould_3=139.8)
    explanation = explain(dc.replace(base, driver=driver))
    assert any("would reach 1 (seen under a microscope) in about 20 days and 3 (patches you can see) in about "
               "140 days" in r for r in explanation.reasons)
    never = explain(dc.replace(base, driver=dc.replace(base.driver, days_to_mould_3=float("inf"))))
    assert not any("would reach" in r for r in never.reasons)


def test_a_low_home_still_hears_about_its_ventilation():
    """Low band: no damp claim, but slow clearing of steam is reported as worth checking, and good clearing as good."""
    import dataclasses as dc

    from analytics.wording import contradictions

    base = dc.replace(facts(), band="low", cause="", ventilation_room="Bathroom", ventilation_remaining=0.3)
    slow = explain(dc.replace(base, ventilation_poor=True))
    assert any("falls back slowly" in r and "worth checking" in r for r in slow.reasons)
    assert contradictions("low", 10.0, slow.reason_keys, slow.help_keys) == []
    good = explain(dc.replace(base, ventilation_good=True))
    assert "The bathroom clears steam well after showers or cooking." in good.reasons


@pytest.mark.parametrize(
    ("steady", "key", "phrase"),
    [(True, "reason.leak", "day and night"), (False, "reason.leak_wet_room", "far more humid on average")],
)
def test_a_leak_is_worded_by_the_evidence_that_named_it(steady, key, phrase):
    """A steady leak says humid day and night; a leak seen from a wet room's average says that instead."""
    explanation = explain(facts(cause="leak", leak_room="Bathroom", leak_steady=steady))
    assert key in explanation.reason_keys
    assert sum(phrase in r for r in explanation.reasons) == 1
    assert not {"reason.leak", "reason.leak_wet_room"} - {key} & set(explanation.reason_keys)
