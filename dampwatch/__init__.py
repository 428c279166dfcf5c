"""The dampwatch command: a thin composition root that wires the boxes into processes."""
