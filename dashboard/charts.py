"""Charts of a room's conditions for the property page: drawn on the server, readable without JavaScript.

Each room with a sensor gets one PNG with three panels over the last 30 or 90 days: room temperature;
room humidity with the humidity at the room's cold spot and the 80 % line above which mould can grow;
and the mould index (0 to 6). The page puts a description in the image's ``alt`` text and the same
numbers, day by day, in a table under it. The PNG is drawn with Pillow (see :func:`render_room_chart`
for why not matplotlib); it is a plain image, so the content security policy has nothing to object to,
and the evidence pack can put the same bytes in a PDF.

The numbers come from :func:`analytics.room_series.room_series`, the one function behind every chart
(the browser's interactive charts read the same series as JSON): scoring's own hourly aggregates, outdoor
conditions, cold-spot humidity and the day rows ``dampwatch score`` keeps, so the charts agree with the risk
on the page. This module only draws and words them.

A page and its chart images ask for the same series within moments of each other, so the last few are
kept in memory, keyed by the home, the period, the hour and the newest reading of its sensors (new
readings give a new key).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import io
import itertools
import logging
import math
import threading
from typing import TYPE_CHECKING, Final, Generic, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.constants import SURFACE_RH_MOULD_LIMIT
from analytics.registry import epoch_hour
from analytics.room_series import KEPT_DAYS, RoomSeries, room_series
from core.model import DeviceHealth, Installation, Property, Room
from core.readings import ReadingsStore

if TYPE_CHECKING:
    from analytics.thermal_home import HomeThermal

__all__ = [
    "CHART_DAYS",
    "DEFAULT_CHART_DAYS",
    "RoomSeries",
    "alt_text",
    "property_series",
    "render_room_chart",
    "room_chart_png",
    "table_rows",
]

logger = logging.getLogger(__name__)

CHART_DAYS: Final = (30, 90)
"""Periods the property page offers. [d]"""
DEFAULT_CHART_DAYS: Final = 30
LONDON: Final = ZoneInfo("Europe/London")
SERIES_CACHE_SIZE: Final = 32
"""Series kept in memory (one per home and period): enough for a page and its images, for a few officers."""


# GOV.UK colours; lines also differ in style, so colour is never the only difference.
_BLUE, _RED, _BLACK, _GREEN, _GREY = "#1d70b8", "#d4351c", "#0b0c0c", "#00703c", "#505a5f"
_GRID = "#dcdddd"


@dataclasses.dataclass
class _Entry:
    series: list[RoomSeries]
    images: dict[int, bytes] = dataclasses.field(default_factory=dict)


_T = TypeVar("_T")


class _SeriesCache(Generic[_T]):
    """A small least-recently-used cache of computed series and their images, safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: collections.OrderedDict[tuple, _T] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> _T | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple, value: _T) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE: _SeriesCache[_Entry] = _SeriesCache(SERIES_CACHE_SIZE)
_THERMAL_CACHE: _SeriesCache[HomeThermal] = _SeriesCache(SERIES_CACHE_SIZE)


def _home_key(session: Session, store: ReadingsStore, home: Property) -> tuple:
    """What a home's computed figures depend on besides the period: the stores, the register's last change to
    the home and its devices' newest reading (a new reading, or a device moved, makes a new key)."""
    newest = session.scalar(
        select(func.max(DeviceHealth.last_seen))
        .join(Installation, Installation.device_id == DeviceHealth.device_id)
        .join(Room, Room.id == Installation.room_id)
        .where(Room.uprn == home.uprn)
    )
    return store.url, str(session.get_bind().engine.url), home.uprn, newest, home.updated_at


def _entry(session: Session, store: ReadingsStore, uprn: str, days: int, now: dt.datetime | None) -> _Entry | None:
    if days not in CHART_DAYS:
        raise ValueError(f"days must be one of {', '.join(map(str, CHART_DAYS))}, not {days!r}")
    home = session.get(Property, uprn)
    if home is None:
        return None
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    end_hour = epoch_hour(now) + 1
    key = (*_home_key(session, store, home), days, end_hour)
    found = _CACHE.get(key)
    if found is None:
        found = _Entry(room_series(session, store, home, days, end_hour))
        _CACHE.put(key, found)
    return found


def property_series(session: Session, store: ReadingsStore, uprn: str, *, days: int = DEFAULT_CHART_DAYS,
                    now: dt.datetime | None = None) -> list[RoomSeries]:
    """Hourly and daily series of each indoor room of a home that has had a sensor, over the last ``days``.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A session on the app database (the register, installations, imported weather).
    store : ReadingsStore
        The readings store.
    uprn : str
        The home.
    days : int, default 30
        One of :data:`CHART_DAYS`. [d]
    now : datetime.datetime, optional
        The end of the period (the current hour is included); the current time if omitted.

    Returns
    -------
    list of RoomSeries
        Rooms in the order of their ids; empty for an unknown home or one without sensors.

    Raises
    ------
    ValueError
        If ``days`` is not one of :data:`CHART_DAYS`.
    """
    entry = _entry(session, store, uprn, days, now)
    return [] if entry is None else entry.series


def property_thermal(session: Session, store: ReadingsStore, uprn: str, now: dt.datetime) -> HomeThermal | None:
    """The home's excess cold and heat insight (:func:`analytics.thermal_home.home_thermal`), kept like the
    series: computed again when the hour turns, a device of the home reports, or the register changes the home.
    None for an unknown home."""
    from analytics.thermal_home import home_thermal

    home = session.get(Property, uprn)
    if home is None:
        return None
    key = (*_home_key(session, store, home), "thermal", epoch_hour(now.astimezone(dt.UTC)))
    found = _THERMAL_CACHE.get(key)
    if found is None:
        found = home_thermal(session, store, uprn, now)
        if found is None:
            return None
        _THERMAL_CACHE.put(key, found)
    return found


def room_chart_png(session: Session, store: ReadingsStore, uprn: str, room_id: int, *,
                   days: int = DEFAULT_CHART_DAYS, now: dt.datetime | None = None) -> bytes | None:
    """The PNG chart of one room of a home (drawn once, then kept with its series); None if there is none."""
    entry = _entry(session, store, uprn, days, now)
    if entry is None:
        return None
    image = entry.images.get(room_id)
    if image is None:
        series = next((s for s in entry.series if s.room_id == room_id), None)
        if series is None:
            return None
        image = entry.images[room_id] = render_room_chart(series)
    return image


# --------------------------------------------------------------------------------------------------------
# Words and pictures
# --------------------------------------------------------------------------------------------------------


def _format_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def alt_text(series: RoomSeries) -> str:
    """A description of a room's chart in words, for the image's ``alt`` text."""
    daily = series.daily
    first, last = _format_date(daily["day"].iat[0]), _format_date(daily["day"].iat[-1])
    period = f"from {first} to {last}"
    if not series.has_data:
        return f"Chart of the {series.name.lower()} {period}: no readings in this period."
    hours = daily["hours_data"].to_numpy()
    weights = np.where(hours > 0, hours, 0)

    def average(column: str) -> float:
        values = daily[column].to_numpy(dtype=float)
        present = np.isfinite(values) & (weights > 0)
        return float(np.average(values[present], weights=weights[present]))

    over = int(daily["hours_surface_rh_over_80"].sum())
    index = daily["mould_index"].to_numpy(dtype=float)
    index = index[np.isfinite(index)]
    mould = (f"the mould index went from {index[0]:.1f} to {index[-1]:.1f} on a scale of 0 to 6"
             if index.size else "there is no mould index for this period")
    if index.size and series.mould_index_partial:
        mould += f" over the last {index.size} days (it is kept for {KEPT_DAYS} days)"
    return (
        f"Chart of the {series.name.lower()} {period}. Temperature averaged {average('temperature_c'):.1f} °C "
        f"and humidity {average('humidity_pct'):.0f} %. The coldest wall averaged "
        f"{average('surface_rh_pct'):.0f} % humidity and was above 80 % for {over} hours; {mould}. "
        "The table below gives the values for each day."
    )


def _fmt(value: float, digits: int) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def table_rows(series: RoomSeries) -> list[tuple[dt.date, tuple[str, ...] | None]]:
    """The chart's data table, day by day: the date and its cells as text (None for a day without readings)."""
    daily = series.daily
    rows: list[tuple[dt.date, tuple[str, ...] | None]] = []
    for day, hours, temp, rh, surface, over, index in zip(
            daily["day"], daily["hours_data"].tolist(), daily["temperature_c"].tolist(),
            daily["humidity_pct"].tolist(), daily["surface_rh_pct"].tolist(),
            daily["hours_surface_rh_over_80"].tolist(), daily["mould_index"].tolist(), strict=True):
        cells = None if not hours else (_fmt(temp, 1), _fmt(rh, 0), _fmt(surface, 0), str(over), _fmt(index, 2))
        rows.append((day, cells))
    return rows


CHART_WIDTH_IN, CHART_HEIGHT_IN = 7.5, 5.6
CHART_WIDTH_PX: Final = int(CHART_WIDTH_IN * 96)  # 720
CHART_HEIGHT_PX: Final = int(CHART_HEIGHT_IN * 96)  # 537
_SCALE: Final = 2  # drawn at twice the size and shrunk: smooth, anti-aliased lines and text
_FONT_FILES: Final = (
    # Liberation Sans has Arial's metrics (the pages use Arial); DejaVu Sans is Debian's default font and
    # matplotlib carries a copy.
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)


@functools.cache
def _font(size: int, bold: bool = False):
    """A TrueType font at ``size`` pixels (of the drawing at twice the size)."""
    from PIL import ImageFont

    candidates = [pair[1 if bold else 0] for pair in _FONT_FILES]
    try:
        import matplotlib

        candidates.append(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans{'-Bold' if bold else ''}.ttf")
    except ImportError:  # matplotlib is optional here
        pass
    for path in candidates:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _nice_ticks(low: float, high: float, most: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten, at most ``most``."""
    span = max(high - low, 1e-9)
    for power in range(-2, 4):
        for unit in (1, 2, 5):
            step = unit * 10.0 ** power
            first = math.ceil(low / step - 1e-9) * step
            ticks = [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]
            if len(ticks) <= most and step >= span / (most + 1):
                return ticks
    return [low, high]


class _Panel:
    """One panel of the chart: maps values to pixels of the (twice-size) drawing and draws into it."""

    def __init__(self, draw, box: tuple[int, int, int, int], x_range: tuple[float, float],
                 y_range: tuple[float, float]) -> None:
        self.draw = draw
        self.left, self.top, self.right, self.bottom = box
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range

    def xs(self, x: npt.ArrayLike) -> np.ndarray:
        return self.left + (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def ys(self, y: npt.ArrayLike) -> np.ndarray:
        values = np.clip(np.asarray(y, dtype=float), self.y0, self.y1)
        return self.bottom - (values - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)

    def frame(self, y_ticks: list[float], y_format: str, x_ticks: list[float]) -> None:
        draw, font = self.draw, _font(11 * _SCALE)
        for tick in x_ticks:
            x = float(self.xs([tick])[0])
            draw.line([(x, self.top), (x, self.bottom)], fill=_GRID, width=_SCALE)
        for tick in y_ticks:
            y = float(self.ys([tick])[0])
            draw.line([(self.left, y), (self.right, y)], fill=_GRID, width=_SCALE)
            draw.text((self.left - 6 * _SCALE, y), y_format.format(tick), fill=_BLACK, font=font, anchor="rm")
        draw.line([(self.left, self.top), (self.left, self.bottom), (self.right, self.bottom)], fill=_BLACK,
                  width=_SCALE)

    def line(self, x: np.ndarray, y: np.ndarray, colour: str, width: float, dash: tuple[int, int] | None = None
             ) -> None:
        """A line through the points, broken where values are missing, solid or dashed (on, off pixels)."""
        px, py = self.xs(x), self.ys(y)
        present = np.isfinite(np.asarray(y, dtype=float))
        # Runs of consecutive present points, each drawn as one polyline.
        edges = np.flatnonzero(np.diff(np.r_[0, present.astype(np.int8), 0]))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            points = list(zip(px[start:stop].tolist(), py[start:stop].tolist(), strict=True))
            if len(points) == 1:
                points.append((points[0][0] + _SCALE, points[0][1]))
            if dash is None:
                self.draw.line(points, fill=colour, width=round(width * _SCALE), joint="curve")
            else:
                self._dashed(points, colour, width, dash)

    def _dashed(self, points: list[tuple[float, float]], colour: str, width: float, dash: tuple[int, int]) -> None:
        """Dashes along the polyline, the pattern running on across its corners."""
        on, off = dash[0] * _SCALE, dash[1] * _SCALE
        period, phase = on + off, 0.0
        piece: list[tuple[float, float]] = [points[0]]
        line_width = round(width * _SCALE)
        for (xa, ya), (xb, yb) in itertools.pairwise(points):
            length = math.hypot(xb - xa, yb - ya)
            done = 0.0
            while done < length:
                step = min((on if phase < on else period) - phase, length - done)
                in_dash = phase < on
                done += step
                phase += step
                point = (xa + (xb - xa) * done / length, ya + (yb - ya) * done / length)
                if in_dash:
                    piece.append(point)
                    if phase >= on:  # the dash ends here
                        if len(piece) > 1:
                            self.draw.line(piece, fill=colour, width=line_width)
                        piece = []
                elif phase >= period:  # the gap ends: a new dash starts here
                    phase = 0.0
                    piece = [point]
        if len(piece) > 1:
            self.draw.line(piece, fill=colour, width=line_width)


def _legend(draw, x: int, y: int, items: list[tuple[str, str, float, tuple[int, int] | None]]) -> None:
    """Line samples with their labels, in a row starting at (x, y) of the twice-size drawing."""
    font = _font(11 * _SCALE)
    for label, colour, width, dash in items:
        sample = 26 * _SCALE
        if dash is None:
            draw.line([(x, y), (x + sample, y)], fill=colour, width=round(width * _SCALE))
        else:
            on, off = dash[0] * _SCALE, dash[1] * _SCALE
            for start in range(0, sample, on + off):
                draw.line([(x + start, y), (x + min(start + on, sample), y)], fill=colour,
                          width=round(width * _SCALE))
        x += sample + 5 * _SCALE
        draw.text((x, y), label, fill=_BLACK, font=font, anchor="lm")
        x += int(draw.textlength(label, font=font)) + 16 * _SCALE


def render_room_chart(series: RoomSeries, *, dpi: int = 96) -> bytes:
    """A PNG of a room's temperature, humidity with cold-spot humidity and the 80 % line, and mould index.

    The picture is 7.5 by 5.6 inches at ``dpi`` dots per inch: 720 by 537 pixels at the default 96 (the
    size the property page gives its ``img``); the evidence pack asks for fewer dots.

    Drawn with Pillow rather than matplotlib: three matplotlib panels took 150 to 300 ms of processor time
    each on the test machines, this takes a tenth of that, and the picture is the same kind of thing
    (lines, grid, ticks, legends). Lines differ in style as well as colour.
    """
    from PIL import Image, ImageDraw

    width, height = CHART_WIDTH_PX * _SCALE, CHART_HEIGHT_PX * _SCALE
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    hourly, daily = series.hourly, series.daily
    start_s = series.start.timestamp()
    end_s = series.end.timestamp()
    hours_s = hourly.index.as_unit("s").asi8.astype(float) + 1800.0  # the middle of each hour
    temperature = hourly["temperature_c"].to_numpy(dtype=float)
    humidity = hourly["humidity_pct"].to_numpy(dtype=float)
    surface = hourly["surface_rh_pct"].to_numpy(dtype=float)
    index = daily["mould_index"].to_numpy(dtype=float)

    # Ticks on London midnights, every week (30 days) or fortnight (90 days).
    step_days = 7 if series.days <= 45 else 14
    first = series.start.astimezone(LONDON).date() + dt.timedelta(days=1)
    tick_days = [first + dt.timedelta(days=d) for d in range(0, series.days + 1, step_days)]
    tick_times = [dt.datetime.combine(day, dt.time(0), LONDON) for day in tick_days]
    x_ticks = [t.timestamp() for t in tick_times if start_s <= t.timestamp() <= end_s]

    left, right = 58 * _SCALE, width - 14 * _SCALE
    draw.text((10 * _SCALE, 8 * _SCALE), f"{series.name}: last {series.days} days", fill=_BLACK,
              font=_font(15 * _SCALE, bold=True))
    boxes = [(left, 62, 172), (left, 214, 356), (left, 398, 500)]
    panels = []

    def box(top: int, bottom: int) -> tuple[int, int, int, int]:
        return left, top * _SCALE, right, bottom * _SCALE

    finite_t = temperature[np.isfinite(temperature)]
    t_low, t_high = (float(finite_t.min()), float(finite_t.max())) if finite_t.size else (15.0, 21.0)
    t_ticks = _nice_ticks(math.floor(t_low - 0.5), math.ceil(t_high + 0.5), 4)
    panel = _Panel(draw, box(*boxes[0][1:]), (start_s, end_s), (min(t_ticks[0], t_low - 0.5),
                                                                 max(t_ticks[-1], t_high + 0.5)))
    panel.frame(t_ticks, "{:.0f}", x_ticks)
    panel.line(hours_s, temperature, _BLUE, 1.0)
    _legend(draw, left, (boxes[0][1] - 12) * _SCALE, [("Room temperature (°C)", _BLUE, 1.5, None)])
    panels.append(panel)

    finite_h = humidity[np.isfinite(humidity)]
    h_low = min(30.0, math.floor((float(finite_h.min()) - 5) / 10) * 10) if finite_h.size else 30.0
    panel = _Panel(draw, box(*boxes[1][1:]), (start_s, end_s), (h_low, 100.0))
    panel.frame(_nice_ticks(h_low, 100.0, 5), "{:.0f} %", x_ticks)
    panel.line(hours_s, humidity, _BLUE, 1.0)
    panel.line(hours_s, surface, _RED, 1.2, dash=(5, 2))
    limit = np.array([SURFACE_RH_MOULD_LIMIT, SURFACE_RH_MOULD_LIMIT])
    panel.line(np.array([start_s, end_s]), limit, _BLACK, 1.6, dash=(2, 2))
    _legend(draw, left, (boxes[1][1] - 12) * _SCALE, [
        ("Room humidity", _BLUE, 1.5, None), ("Humidity at the coldest wall", _RED, 1.5, (5, 2)),
        ("80 %: mould can grow above this", _BLACK, 1.6, (2, 2))])
    if not series.has_data:
        draw.text(((left + right) / 2, (boxes[1][1] + boxes[1][2]) / 2 * _SCALE), "No readings in this period",
                  fill=_GREY, font=_font(14 * _SCALE), anchor="mm")
    panels.append(panel)

    top = float(np.nanmax(index)) if np.isfinite(index).any() else 0.0
    m_high = max(1.0, math.ceil(top + 0.25))
    panel = _Panel(draw, box(*boxes[2][1:]), (start_s, end_s), (0.0, m_high))
    panel.frame(_nice_ticks(0.0, m_high, 4), "{:g}", x_ticks)
    day_edges = np.array([dt.datetime.combine(day, dt.time(0), dt.UTC).timestamp() for day in daily["day"]])
    # A step per day: the index at the end of the day, held across it.
    step_x = np.column_stack([day_edges, day_edges + 86400.0]).ravel()
    step_y = np.repeat(index, 2)
    panel.line(np.clip(step_x, start_s, end_s), step_y, _GREEN, 1.8)
    _legend(draw, left, (boxes[2][1] - 12) * _SCALE, [("Mould index at the coldest wall (0 to 6)", _GREEN, 1.8, None)])
    panels.append(panel)

    font = _font(11 * _SCALE)
    for tick, time_ in zip(x_ticks, [t for t in tick_times if start_s <= t.timestamp() <= end_s], strict=True):
        x = float(panel.xs([tick])[0])
        draw.text((x, (boxes[2][2] + 6) * _SCALE), f"{time_.day} {time_:%b}", fill=_BLACK, font=font, anchor="mt")

    size = (int(CHART_WIDTH_IN * dpi), int(CHART_HEIGHT_IN * dpi))
    small = image.resize(size, Image.Resampling.LANCZOS)
    # A palette of 64 colours is plenty for a few lines on white, and makes the file a third of the size.
    small = small.quantize(colors=64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------------
# Events marked on the interactive charts
# --------------------------------------------------------------------------------------------------------

EVENT_KINDS: Final = ("band", "case_opened", "inspection", "works_done", "sensor_silent")
"""What the charts mark: a risk band change, a case opened, an inspection done, works done, a sensor silent."""


def chart_events(session: Session, uprn: str, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """The home's events between ``start`` and ``end``, oldest first: ``{"t", "kind", "label"}`` (epoch s).

    Band changes compare each finished scoring run's band with the one before it (the first run in the period
    is compared with the last run before it, so a band the home already had is not an event).
    """
    from core.model import Case, Inspection, PropertyRisk, ScoringRun
    from core.model_alerts import Alarm

    events: list[tuple[dt.datetime, str, str]] = []
    runs = session.execute(
        select(ScoringRun.finished_at, PropertyRisk.band)
        .join(PropertyRisk, PropertyRisk.run_id == ScoringRun.id)
        .where(PropertyRisk.uprn == uprn, ScoringRun.finished_at.is_not(None), ScoringRun.finished_at < end)
        .order_by(ScoringRun.id)
    ).all()
    previous = None
    for finished, band in runs:
        assert finished is not None  # the query takes finished runs only
        if previous is not None and band != previous and finished >= start:
            events.append((finished, "band", f"Risk band {previous} to {band}"))
        previous = band
    for case_id, opened, works in session.execute(
            select(Case.id, Case.opened_at, Case.works_completed_at).where(Case.uprn == uprn)):
        if opened is not None and start <= opened < end:
            events.append((opened, "case_opened", f"Case {case_id} opened"))
        if works is not None and start <= works < end:
            events.append((works, "works_done", f"Works done (case {case_id})"))
    for done, in session.execute(select(Inspection.completed_at).where(
            Inspection.uprn == uprn, Inspection.completed_at >= start, Inspection.completed_at < end)):
        assert done is not None  # the query's comparisons exclude NULL
        events.append((done, "inspection", "Inspection"))
    for raised, device in session.execute(select(Alarm.raised_at, Alarm.device_id).where(
            Alarm.uprn == uprn, Alarm.rule == "sensor_silent", Alarm.raised_at >= start, Alarm.raised_at < end)):
        events.append((raised, "sensor_silent", f"Sensor {device or ''} silent".replace("  ", " ")))

    def utc(value: dt.datetime) -> dt.datetime:
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    events.sort(key=lambda e: (utc(e[0]), EVENT_KINDS.index(e[1])))
    return [{"t": int(utc(at).timestamp()), "kind": kind, "label": label} for at, kind, label in events]


def property_chart_data(session: Session, store: ReadingsStore, uprn: str, *, days: int = DEFAULT_CHART_DAYS,
                        now: dt.datetime | None = None) -> dict | None:
    """The interactive charts' JSON for a home: :func:`analytics.room_series.series_json` plus its events."""
    from analytics.room_series import days_to_visible_mould, series_json

    entry = _entry(session, store, uprn, days, now)
    if entry is None:
        return None
    projections = days_to_visible_mould(session, [room.room_id for room in entry.series])
    data = series_json(entry.series, projections)
    if entry.series:
        data["events"] = chart_events(session, uprn, entry.series[0].start, entry.series[0].end)
    else:
        data["events"] = []
    data["uprn"] = uprn
    data["days"] = days
    return data
