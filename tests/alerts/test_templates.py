"""Tenant templates: every language complete and consistent, kind words only, and they render."""

from __future__ import annotations

import datetime as dt
import re
import string
import tomllib

import pytest

from alerts.messages import (
    ADVICE_KEYS,
    MESSAGE_TYPES,
    TEMPLATES_DIR,
    TENANT_TEMPLATES_DIR,
    TemplateError,
    format_date,
    languages,
    render,
)

ENGLISH = tomllib.loads((TENANT_TEMPLATES_DIR / "en.toml").read_text(encoding="utf-8"))
BLAMING = (
    "your fault", "lifestyle", "you must stop", "failure to", "you failed", "you should have", "blame",
    "careless", "neglect", "dirty", "unhygienic", "ffordd o fyw", "eich bai", "ar fai",
)
VALUES = {"name": "Sam", "link": "https://dampwatch.example.org/tenant/sign-in", "minutes": 30,
          "last_seen": dt.date(2026, 1, 10)}


def strings(value) -> list[str]:
    """Every string value in a parsed TOML document (the words people read; comments are not)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def placeholders(text: str) -> set[str]:
    return {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(text)
            if m.group("named") or m.group("braced")}


def test_english_and_welsh_are_there():
    """At least English and Welsh tenant templates exist."""
    assert {"en", "cy"} <= set(languages())


@pytest.mark.parametrize("language", languages())
def test_every_language_has_every_message_type_and_key_with_the_same_placeholders(language):
    """A language file has each message type and key of en.toml, with exactly the same placeholders."""
    data = tomllib.loads((TENANT_TEMPLATES_DIR / f"{language}.toml").read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    for message_type in MESSAGE_TYPES:
        assert message_type in data, f"{language}.toml has no [{message_type}]"
        assert set(data[message_type]) == set(ENGLISH[message_type]), f"{language}.toml [{message_type}] keys differ"
        for key, text in ENGLISH[message_type].items():
            assert placeholders(data[message_type][key]) == placeholders(text), f"{language} {message_type}.{key}"
    assert set(data["rooms"]) == set(ENGLISH["rooms"])
    assert len(data["calendar"]["visit_days"]) == 7 and len(data["calendar"]["months"]) == 12
    for key in ("visit_date", "date"):
        assert placeholders(data["calendar"][key]) == placeholders(ENGLISH["calendar"][key])


def test_every_advice_message_says_what_we_are_doing_in_three_situations():
    """Advice messages have a 'doing' sentence for an open case, a booked visit and neither, used in each text."""
    for message_type in MESSAGE_TYPES:
        if message_type == "sign_in_link":
            continue
        section = ENGLISH[message_type]
        assert set(section) == set(ADVICE_KEYS)
        for key in ("body", "sms"):
            assert "doing" in placeholders(section[key]), f"{message_type}.{key} does not say what we are doing"
        assert "visit_date" in placeholders(section["doing_visit"])


@pytest.mark.parametrize("path", sorted(TEMPLATES_DIR.rglob("*.toml")), ids=lambda p: p.name)
def test_no_template_blames_the_household(path):
    """No template (any language, tenant or staff) uses blaming words ("It's not lifestyle")."""
    text = "\n".join(strings(tomllib.loads(path.read_text(encoding="utf-8")))).lower()
    assert text
    found = [word for word in BLAMING if re.search(rf"\b{re.escape(word)}\b", text)]
    assert found == []


@pytest.mark.parametrize("language", languages())
@pytest.mark.parametrize("message_type", MESSAGE_TYPES)
@pytest.mark.parametrize("doing", ["case", "visit", "none"])
def test_every_message_renders_in_every_language(language, message_type, doing):
    """Every type renders with no placeholder left over, in every language and situation."""
    if message_type == "sign_in_link":
        rendered = render(message_type, language, **VALUES)
    else:
        rendered = render(message_type, language, doing=doing, visit_date=dt.date(2026, 1, 20),
                          room_type="bathroom", **VALUES)
    for text in (rendered.subject, rendered.body, rendered.sms):
        assert text and "$" not in text
    assert VALUES["link"] in rendered.body and VALUES["link"] in rendered.sms


def test_the_ventilation_message_says_we_have_asked_the_repair_team():
    """With an open case, the ventilation advice tells the tenant the fan is being checked, kindly."""
    rendered = render("ventilation", "en", doing="case", room_type="bathroom", **VALUES)
    assert "We've asked our repair team to check your extractor fan" in rendered.body
    assert "open the window for 10 to 15 minutes" in rendered.body
    assert "steam in the bathroom takes a long time to clear" in rendered.body


def test_a_booked_visit_is_given_with_its_date_in_the_tenants_language():
    """The visit date is written out in English and in Welsh (the adverbial 'ddydd')."""
    visit = dt.date(2026, 1, 20)  # a Tuesday
    assert "will visit on Tuesday 20 January" in render("ventilation", "en", doing="visit", visit_date=visit,
                                                        room_type="bathroom", **VALUES).body
    assert "yn ymweld ddydd Mawrth 20 Ionawr" in render("ventilation", "cy", doing="visit", visit_date=visit,
                                                        room_type="bathroom", **VALUES).body
    assert format_date(dt.date(2026, 3, 1), "cy") == "1 Mawrth"


def test_under_heating_signposts_help_with_energy_costs():
    """The under-heating advice names Simple Energy Advice and the Warm Home Discount, in both languages."""
    for language in ("en", "cy"):
        body = render("under_heating", language, doing="none", **VALUES).body
        assert "simpleenergyadvice.org.uk" in body and "Warm Home Discount" in body


def test_a_language_without_a_file_gets_english():
    """A tenant whose language has no template file is written to in English (and the log says so)."""
    rendered = render("sign_in_link", "xx", **VALUES)
    assert rendered.language == "en" and rendered.body.startswith("Dear Sam")


def test_a_missing_value_is_an_error_not_a_blank():
    """Rendering without a placeholder's value fails loudly."""
    with pytest.raises(TemplateError, match="link"):
        render("sign_in_link", "en", name="Sam", minutes=30)
