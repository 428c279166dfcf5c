"""Choosing an adapter by MQTT topic filter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.errors import ConfigError
from ingest.adapters.base import Adapter, AdapterOptions, AdapterResult
from ingest.codecs import codec_by_name
from ingest.parse import DEFAULT_MAX_FUTURE_S

#: Adapter factories by name (a new ingestor gets its own instance, e.g. its own Shelly pairing state).
#: Filled by :func:`register_adapter`, which each vendor module calls when it is imported.
ADAPTERS: dict[str, Callable[[], Adapter]] = {}
_DEFAULT_ROUTES: list[tuple[int, str, str]] = []


def register_adapter(
    name: str, factory: Callable[[], Adapter], *, default_routes: Iterable[tuple[int, str]] = ()
) -> None:
    """Make adapter ``name`` available to routes; ``default_routes`` are ``(order, topic filter)`` pairs.

    ``order`` places the filter among the default routes (lower first; the first matching route wins).
    """
    if name in ADAPTERS:
        raise ConfigError(f"two adapters are registered under the name {name!r}")
    ADAPTERS[name] = factory
    for order, topic_filter in default_routes:
        validate_topic_filter(topic_filter)
        _DEFAULT_ROUTES.append((order, topic_filter, name))


def default_routes() -> tuple[tuple[str, str], ...]:
    """The topic filters of each system's default set-up, in route order."""
    return tuple((topic_filter, name) for _order, topic_filter, name in sorted(_DEFAULT_ROUTES))


def validate_topic_filter(topic_filter: str) -> None:
    """Raise :class:`ConfigError` unless ``topic_filter`` is a valid MQTT topic filter."""
    if not topic_filter or len(topic_filter.encode("utf-8")) > 65535:
        raise ConfigError(f"MQTT topic filter {topic_filter!r} is empty or too long")
    levels = topic_filter.split("/")
    for position, level in enumerate(levels):
        if "#" in level and (level != "#" or position != len(levels) - 1):
            raise ConfigError(f"MQTT topic filter {topic_filter!r}: '#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise ConfigError(f"MQTT topic filter {topic_filter!r}: '+' must be a whole level (a/+/b)")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches an MQTT topic filter (``+`` one level, ``#`` the rest, including none).

    As in MQTT, wildcards at the first level do not match topics starting with ``$``.
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels, topic_levels = topic_filter.split("/"), topic.split("/")
    for position, level in enumerate(filter_levels):
        if level == "#":
            return True
        if position >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[position]:
            return False
    return len(filter_levels) == len(topic_levels)


def select_adapter(topic: str, patterns: Iterable[tuple[str, str]]) -> str | None:
    """The adapter name of the first ``(topic filter, adapter name)`` pattern that matches ``topic``."""
    for topic_filter, name in patterns:
        if topic_matches(topic_filter, topic):
            return name
    return None


def parse_routes(text: str) -> list[tuple[str, str]]:
    """Routes from a setting such as ``"zigbee2mqtt/#=zigbee2mqtt, tele/+/SENSOR=tasmota"``."""
    routes = []
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        topic_filter, separator, name = item.rpartition("=")
        if not separator or not topic_filter.strip() or not name.strip():
            raise ConfigError(
                f"adapter route {item!r} must be TOPIC_FILTER=ADAPTER (for example zigbee2mqtt/#=zigbee2mqtt)"
            )
        routes.append((topic_filter.strip(), name.strip()))
    return routes


class AdapterRegistry:
    """Routes MQTT topics to adapters by topic filter; the first matching route wins.

    ``routes`` is a list of ``(topic filter, adapter name)``; ``mapping`` the device
    mapping every adapter uses. Unknown adapter names and invalid filters raise
    :class:`ConfigError` at construction.
    """

    def __init__(
        self,
        routes: Iterable[tuple[str, str]] | None = None,
        *,
        mapping: Mapping[str, str] | None = None,
        max_future_s: float = DEFAULT_MAX_FUTURE_S,
        codecs: Mapping[str, str] | None = None,
        tasmota_timezone: dt.tzinfo | None = None,
    ) -> None:
        self.routes: list[tuple[str, str]] = []
        if routes is None:
            routes = default_routes()
        self.mapping = dict(mapping or {})
        self.max_future_s = max_future_s
        for key, name in (codecs or {}).items():
            try:
                codec_by_name(name)
            except ConfigError as exc:
                raise ConfigError(f"device map row {key!r}: {exc}") from None
        self.options = AdapterOptions(
            mapping=self.mapping, codecs=dict(codecs or {}), max_future_s=max_future_s,
            tasmota_timezone=tasmota_timezone,
        )
        self._adapters: dict[str, Adapter] = {}
        for topic_filter, name in routes:
            validate_topic_filter(topic_filter)
            if name not in ADAPTERS:
                raise ConfigError(
                    f"adapter {name!r} (for topic filter {topic_filter!r}) does not exist; "
                    f"choose one of: {', '.join(sorted(ADAPTERS))}"
                )
            if name not in self._adapters:
                self._adapters[name] = ADAPTERS[name]()
            self.routes.append((topic_filter, name))

    def subscriptions(self) -> list[str]:
        """The topic filters to subscribe to, each once, in route order."""
        return list(dict.fromkeys(topic_filter for topic_filter, _ in self.routes))

    def select(self, topic: str) -> str | None:
        """The name of the adapter for ``topic`` (None when no route matches)."""
        return select_adapter(topic, self.routes)

    def adapter(self, name: str) -> Adapter:
        """The adapter instance registered under ``name``."""
        return self._adapters[name]

    def parse(self, topic: str, payload: bytes, *, received_at: dt.datetime) -> AdapterResult | None:
        """Run the adapter chosen for ``topic``; None when no route matches it."""
        name = self.select(topic)
        if name is None:
            return None
        return self._adapters[name](
            topic, payload, received_at=received_at, options=self.options
        )



def registry_from_settings(settings: Any, routes: Iterable[tuple[str, str]] | None = None) -> AdapterRegistry:
    """The registry the settings describe: routes, the device map (with codecs), the Tasmota time zone."""
    from ingest.adapters.devicemap import load_device_map

    device_map = load_device_map(settings.ingest_device_map_file)
    if routes is None:
        routes = parse_routes(settings.ingest_adapters) if settings.ingest_adapters.strip() else default_routes()
    return AdapterRegistry(
        routes, mapping=device_map.device_ids, codecs=device_map.codecs, max_future_s=settings.ingest_max_future_s,
        tasmota_timezone=tasmota_zone(getattr(settings, "ingest_tasmota_timezone", None)),
    )


def tasmota_zone(name: str | None) -> dt.tzinfo | None:
    """The IANA zone called ``name`` (None for none); :class:`ConfigError` saying how to fix a bad name."""
    if not name:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"DAMPWATCH_INGEST_TASMOTA_TIMEZONE {name!r} is not a time zone; use an IANA name such as Europe/London"
        ) from None
