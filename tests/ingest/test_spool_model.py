"""The spool against a model of a FIFO queue, across restarts and unfinished writes (hypothesis state machine).

The model is a plain list of batches. Whatever the order of appends, replays,
restarts and crashed writes, the spool must hand back exactly the model's oldest
batch, byte for byte: nothing appended (and so acknowledged) is ever lost,
reordered or overwritten, and nothing half-written ever appears.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ingest.batch import RawMessage
from ingest.spool import Spool

messages = st.builds(
    RawMessage,
    topic=st.text(min_size=1, max_size=40),
    payload=st.binary(max_size=300),
    received_at=st.floats(min_value=1.4e9, max_value=2.5e9, allow_nan=False),
)
batches = st.lists(messages, min_size=1, max_size=8)


class SpoolModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="spool-model-"))
        self.spool = Spool(self.directory)
        self.model: list[list[RawMessage]] = []

    @rule(batch=batches)
    def append(self, batch: list[RawMessage]) -> None:
        self.spool.append(batch)
        self.model.append(batch)

    @precondition(lambda self: self.model)
    @rule()
    def replay_one(self) -> None:
        assert self.spool.peek() == self.model[0]
        self.spool.pop()
        self.model.pop(0)

    @rule()
    def restart(self) -> None:
        """The worker stops (or is killed) and a new one opens the same folder."""
        self.spool = Spool(self.directory)

    @rule(batch=batches, cut=st.integers(min_value=0, max_value=200))
    def crash_while_writing(self, batch: list[RawMessage], cut: int) -> None:
        """A write killed before its rename: a partial temporary file, never acknowledged, must never be replayed."""
        number = int(sorted(self.directory.glob("*.jsonl"))[-1].stem) + 1 if self.model else 1
        partial = self.directory / f"{number:012d}.tmp"
        partial.write_text(f'{{"version": 1, "messages": {len(batch)}}}\n{{"topic": "x", "payl' + "x" * cut)
        self.spool = Spool(self.directory)

    @invariant()
    def matches_the_model(self) -> None:
        assert self.spool.batches == len(self.model)
        assert self.spool.messages == sum(len(batch) for batch in self.model)
        assert bool(self.spool) == bool(self.model)
        if self.model:
            assert self.spool.peek() == self.model[0]

    def teardown(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


SpoolModel.TestCase.settings = hypothesis_settings(max_examples=60, stateful_step_count=30, deadline=None)
TestSpoolModel = SpoolModel.TestCase
