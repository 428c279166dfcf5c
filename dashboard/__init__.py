"""The dashboard for housing officers and repair teams (a later issue)."""
