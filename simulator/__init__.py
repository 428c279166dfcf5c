"""A virtual housing estate with real physics and real sensor faults, deterministic from a seed.

It drives DampWatch's tests and demo, and talks to the rest of DampWatch only
over MQTT (it imports nothing from ``ingest``, ``analytics`` or ``dashboard``)::

    from simulator import build_estate, simulate, publish

    estate = build_estate(seed=7, homes=50)
    sim = simulate(estate, datetime(2026, 1, 5, tzinfo=UTC), days=30)
    publish(sim.iter_messages(), "mqtt://127.0.0.1:1883")
    sim.expected             # exactly what a correct ingestor stores
    sim.expected_rejections  # what it dead-letters, by reason
    sim.truth                # per room: cause, cold-spot mould index, hours above 80 %
"""

from __future__ import annotations

from simulator.errors import PublishError, SimulatorError
from simulator.estate import (
    CAUSES,
    ESTATE_CSV_COLUMNS,
    Estate,
    Home,
    Room,
    Site,
    build_estate,
    write_estate_csv,
)
from simulator.outcomes import OUTCOMES_CSV_COLUMNS, inspection_outcomes, write_outcomes_csv
from simulator.publish import PublishStats, publish
from simulator.run import READINGS_CSV_COLUMNS, Simulation, simulate, write_readings_csv
from simulator.truth import TRUTH_COLUMNS, vtt_mould_index, write_truth_csv

__all__ = [
    "CAUSES",
    "ESTATE_CSV_COLUMNS",
    "OUTCOMES_CSV_COLUMNS",
    "READINGS_CSV_COLUMNS",
    "TRUTH_COLUMNS",
    "Estate",
    "Home",
    "PublishError",
    "PublishStats",
    "Room",
    "Simulation",
    "SimulatorError",
    "Site",
    "build_estate",
    "inspection_outcomes",
    "publish",
    "simulate",
    "vtt_mould_index",
    "write_estate_csv",
    "write_outcomes_csv",
    "write_readings_csv",
    "write_truth_csv",
]
