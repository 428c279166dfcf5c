"""DampWatch: shared settings, domain model, app database and readings store."""
