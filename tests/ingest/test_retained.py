"""The retained-message filter against a model of what was stored (hypothesis), across restarts.

Model: a retained delivery may be skipped only if an identical payload on its
topic was already received live, or received retained in a batch that became
durable. A retained delivery whose batch was dropped (the ingestor died before
it was stored; the broker redelivers) must never be skipped later on the strength
of it: that would lose a reading.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.retained import RetainedFilter

topics = st.sampled_from(["zigbee2mqtt/kitchen", "zigbee2mqtt/bath", "dampwatch/d1/status"])
payloads = st.sampled_from([b'{"humidity": 50}', b'{"humidity": 51}', b'{"status": "offline"}'])
events = st.lists(
    st.one_of(
        st.tuples(st.just("message"), topics, payloads, st.booleans()),
        st.tuples(st.just("batch"), st.sampled_from(["durable", "dropped"])),
        st.tuples(st.just("restart")),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(events=events)
def test_a_retained_message_is_skipped_only_when_the_same_was_stored_or_seen_live(events):
    """Never skip a retained message unless its twin was received live or made durable; remember across restarts."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "retained.json"
        live = RetainedFilter(path)
        known: dict[str, bytes] = {}  # the model: last payload per topic that is safe to treat as stored
        pending: list[tuple[str, bytes]] = []  # retained messages of the batch being filled
        in_flight: list[list[tuple[str, bytes]]] = []
        batch_id = 0
        for event in events:
            if event[0] == "message":
                _kind, topic, payload, retain = event
                skipped = live.is_replay(topic, payload, retain)
                assert skipped == (retain and known.get(topic) == payload)
                if not skipped:
                    if retain:
                        pending.append((topic, payload))
                    else:
                        known[topic] = payload
            elif event[0] == "batch":
                batch_id += 1
                live.dispatched(batch_id)
                in_flight.append(pending)
                pending = []
                if event[1] == "durable":
                    live.durable(batch_id)
                    for topic, payload in in_flight.pop():
                        known[topic] = payload
                else:
                    live.dropped(batch_id)
                    in_flight.pop()
            else:  # a clean restart: the memory is saved and read back; unfinished batches are redelivered
                live.save()
                live = RetainedFilter(path)
                pending, in_flight = [], []


def test_a_damaged_memory_file_means_storing_again_never_skipping(tmp_path):
    """An unreadable memory file is ignored (retained messages are stored as new), never trusted."""
    path = tmp_path / "retained.json"
    path.write_text("{not json")
    fresh = RetainedFilter(path)
    assert not fresh.is_replay("zigbee2mqtt/kitchen", b'{"humidity": 50}', True)
