"""Alerts: alarm rules with a lifecycle, tenant advice that never blames, and reliable delivery.

* :mod:`alerts.rules` — the pure logic of a rule: a duration condition and hysteresis on a series of
  observations, with a tiny state object.
* :mod:`alerts.engine` — applies the rules to the app database (risk, room days, device health) and keeps
  the rule state there, so restarts lose nothing.
* :mod:`alerts.alarms` — the alarm lifecycle (open → acknowledged → resolved, assignee, notes), escalation
  of unacknowledged alarms on working days tied to the case clocks, and webhook events.
* :mod:`alerts.digest` — the staff's daily digest of new and escalating alarms.
* :mod:`alerts.messages` — tenant advice from the templates in ``alerts/templates/`` (one file per
  language), with consent, channel, quiet hours, rate limits and de-duplication.
* :mod:`alerts.outbox` — every message is written to the outbox before it is sent; the worker claims,
  sends, retries with backoff and records the outcome.
* :mod:`alerts.channels` — SMTP email, GOV.UK Notify (SMS and email), a signed webhook, printed letters.
* :mod:`alerts.tenants` — importing tenants' contacts, preferences and consent.
* :mod:`alerts.tenant_access` — one-time sign-in links, a tenant's view of their home, reporting a problem.
"""
