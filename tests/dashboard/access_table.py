"""Who may reach what: every route of the dashboard and API × every kind of visitor → the expected answer.

Written by hand from the access policy (README, "Security and personal data"), never derived from the code's
decorators, so widening a decorator or a query scope turns ``test_access_table.py`` red. A route the app has
that this table does not list fails the test too: a new route must be given its row here.

The visitors, left to right:

* ``anon``: signed out;
* ``tenant``: a tenant of home A, signed in with a one-time link;
* ``rep_other``: a repair team member whose team has no inspection at home A;
* ``rep_own``: a repair team member whose team has an inspection at home A;
* ``officer``, ``manager``, ``admin``.

Each route is called with the ids of home A's things (its case, alarm, inspection, room, ...). Answers:

* ``OK``: the page or action ran (a 2xx, a 400 for a form with missing answers, a 3xx not to sign-in, or a
  410 for a used link);
* ``IN``: a redirect to the sign-in page;
* ``403``, ``404`` (the thing exists but is out of this visitor's scope, or is hidden), ``401`` (API without
  a valid token).
"""

from __future__ import annotations

OK, IN = "OK", "IN"
VISITORS = ("anon", "tenant", "rep_other", "rep_own", "officer", "manager", "admin")

#: Shorthands for rows that recur.
_OFFICE = (IN, IN, 403, 403, OK, OK, 403)  # officers and managers only
_ADMIN = (IN, IN, 403, 403, 403, 403, OK)
_TOKENS = (IN, IN, 403, 403, OK, OK, OK)  # officers, managers and admins
_PUBLIC = (OK, OK, OK, OK, OK, OK, OK)
_TENANT = (403, OK, 403, 403, 403, 403, 403)
_API_READ = (401, 401, 403, 403, OK, OK, OK)
_REPAIR_SCOPED = (IN, IN, 404, OK, OK, OK, 403)  # repair only where their team has a job; not admins
_REPAIR_ONLY = (IN, IN, OK, OK, 403, 403, 403)

ACCESS_TABLE: dict[tuple[str, str], tuple] = {
    # the risk list and property pages
    ("GET", "/"): _TOKENS,
    ("GET", "/risk-list.csv"): _TOKENS,
    ("GET", "/properties/<uprn>"): (IN, IN, 403, OK, OK, OK, OK),
    ("GET", "/properties/<uprn>/rooms/<int:room_id>/chart.png"): (IN, IN, 403, OK, OK, OK, OK),
    ("GET", "/properties/<uprn>/chart-data.json"): (IN, IN, 403, OK, OK, OK, OK),
    # signing in and out
    ("GET", "/sign-in"): _PUBLIC,
    ("POST", "/sign-in"): _PUBLIC,
    ("POST", "/sign-out"): (IN, IN, OK, OK, OK, OK, OK),
    # a person's own API tokens
    ("GET", "/account/api-tokens/"): _TOKENS,
    ("GET", "/account/api-tokens/new"): _TOKENS,
    ("POST", "/account/api-tokens/new"): _TOKENS,
    # the officer's token: only its owner sees it; other token holders are told it is not theirs
    ("GET", "/account/api-tokens/<int:token_id>/revoke"): (IN, IN, 403, 403, OK, 404, 404),
    ("POST", "/account/api-tokens/<int:token_id>/revoke"): (IN, IN, 403, 403, OK, 404, 404),
    # admin
    ("GET", "/admin/api-tokens"): _ADMIN,
    ("POST", "/admin/api-tokens/<int:token_id>/revoke"): _ADMIN,
    ("GET", "/admin/audit-log"): (IN, IN, 403, 403, 403, OK, OK),
    ("GET", "/admin/teams"): _ADMIN,
    ("GET", "/admin/teams/<int:team_id>"): _ADMIN,
    ("POST", "/admin/teams/<int:team_id>"): _ADMIN,
    ("GET", "/admin/teams/new"): _ADMIN,
    ("POST", "/admin/teams/new"): _ADMIN,
    ("GET", "/admin/users"): _ADMIN,
    ("GET", "/admin/users/<int:user_id>"): _ADMIN,
    ("POST", "/admin/users/<int:user_id>"): _ADMIN,
    ("POST", "/admin/users/<int:user_id>/deactivate"): _ADMIN,
    ("POST", "/admin/users/<int:user_id>/reactivate"): _ADMIN,
    ("POST", "/admin/users/<int:user_id>/reset-password"): _ADMIN,
    ("POST", "/admin/users/<int:user_id>/sign-out-everywhere"): _ADMIN,
    ("GET", "/admin/users/new"): _ADMIN,
    ("POST", "/admin/users/new"): _ADMIN,
    # alarms: repair members only at homes where their team has a job
    ("GET", "/alarms/"): (IN, IN, OK, OK, OK, OK, 403),
    ("GET", "/alarms/<int:alarm_id>"): _REPAIR_SCOPED,
    ("POST", "/alarms/<int:alarm_id>/acknowledge"): _REPAIR_SCOPED,
    ("POST", "/alarms/<int:alarm_id>/assign"): _REPAIR_SCOPED,
    ("POST", "/alarms/<int:alarm_id>/note"): _REPAIR_SCOPED,
    ("POST", "/alarms/<int:alarm_id>/resolve"): _REPAIR_SCOPED,
    ("POST", "/alarms/<int:alarm_id>/open-case"): _OFFICE,
    # the JSON API
    ("GET", "/api/v1/openapi.json"): _PUBLIC,
    ("GET", "/api/v1/properties"): _API_READ,
    ("GET", "/api/v1/properties/<uprn>"): _API_READ,
    ("GET", "/api/v1/properties/<uprn>/risk"): _API_READ,
    ("GET", "/api/v1/properties/<uprn>/thermal"): _API_READ,
    ("GET", "/api/v1/risk"): _API_READ,
    ("GET", "/api/v1/rooms/<room_id>/readings"): _API_READ,
    ("GET", "/api/v1/devices"): _API_READ,
    ("GET", "/api/v1/cases"): _API_READ,
    ("GET", "/api/v1/cases/<case_id>"): _API_READ,
    ("POST", "/api/v1/cases"): (401, 401, 403, 403, OK, OK, 403),
    ("GET", "/api/v1/inspections"): _API_READ,
    ("POST", "/api/v1/cases/<case_id>/emergency"): (401, 401, 403, 403, OK, OK, 403),
    ("GET", "/api/v1/awaab-export"): _API_READ,
    # cases
    ("GET", "/cases/"): _OFFICE,
    ("GET", "/cases/new"): _OFFICE,
    ("POST", "/cases/new"): _OFFICE,
    ("POST", "/cases/from-risk/<uprn>"): _OFFICE,
    ("GET", "/cases/<int:case_id>"): _REPAIR_SCOPED,
    ("POST", "/cases/<int:case_id>/steps/<key>"): _OFFICE,
    ("POST", "/cases/<int:case_id>/close"): _OFFICE,
    ("POST", "/cases/<int:case_id>/notes"): _OFFICE,
    ("GET", "/cases/<int:case_id>/schedule"): _OFFICE,
    ("POST", "/cases/<int:case_id>/schedule"): _OFFICE,
    ("GET", "/cases/<int:case_id>/evidence.pdf"): _OFFICE,
    ("GET", "/cases/<int:case_id>/evidence.zip"): _OFFICE,
    ("GET", "/cases/deadlines"): (IN, IN, 403, 403, 403, OK, OK),
    ("GET", "/cases/schedule"): _OFFICE,
    ("POST", "/cases/schedule"): _OFFICE,
    # Awaab's Law actions on a case (issue 15): the office only, like the other case actions
    ("POST", "/cases/<int:case_id>/emergency"): _OFFICE,
    ("POST", "/cases/<int:case_id>/hazards"): _OFFICE,
    ("POST", "/cases/<int:case_id>/hazards/remove"): _OFFICE,
    ("POST", "/cases/<int:case_id>/endeavours"): _OFFICE,
    ("POST", "/cases/<int:case_id>/escalations"): _OFFICE,
    ("POST", "/cases/<int:case_id>/preventative-deferral"): _OFFICE,
    ("POST", "/cases/<int:case_id>/reopen"): _OFFICE,
    ("POST", "/cases/<int:case_id>/written-summary"): _OFFICE,
    ("GET", "/cases/<int:case_id>/written-summary.pdf"): _OFFICE,
    ("POST", "/cases/<int:case_id>/inspections/<int:inspection_id>/cancel"): _OFFICE,
    ("POST", "/cases/<int:case_id>/inspections/<int:inspection_id>/move"): _OFFICE,
    ("POST", "/cases/<int:case_id>/inspections/<int:inspection_id>/finding"): _OFFICE,
    ("GET", "/cases/<int:case_id>/ombudsman.zip"): _OFFICE,
    # the period's return: managers and admins, like the deadlines page
    ("GET", "/returns"): (IN, IN, 403, 403, 403, OK, OK),
    ("GET", "/returns.csv"): (IN, IN, 403, 403, 403, OK, OK),
    # repair teams' jobs; the findings form only for the team's own inspection
    ("GET", "/jobs/"): _REPAIR_ONLY,
    ("GET", "/jobs/<int:inspection_id>/findings"): (IN, IN, 404, OK, 403, 403, 403),
    ("POST", "/jobs/<int:inspection_id>/findings"): (IN, IN, 404, OK, 403, 403, 403),
    ("GET", "/jobs/calendar"): _REPAIR_ONLY,
    ("POST", "/jobs/calendar"): _REPAIR_ONLY,
    ("GET", "/jobs/calendar/<token>.ics"): _PUBLIC,  # the secret URL is the key
    # the portfolio summary and a page per estate or block (every home: the office and admins)
    ("GET", "/portfolio/"): _TOKENS,
    ("GET", "/portfolio/sites/<path:site>"): _TOKENS,
    # messages that did not go, with retry: the office and admins
    ("GET", "/outbox/"): _TOKENS,
    ("POST", "/outbox/<int:message_id>/retry"): _TOKENS,
    ("POST", "/outbox/retry-failed"): _TOKENS,
    # tenants
    ("GET", "/tenant/sign-in"): _PUBLIC,
    ("POST", "/tenant/sign-in"): _PUBLIC,
    ("GET", "/tenant/sign-in/sent"): _PUBLIC,
    ("GET", "/tenant/language"): _PUBLIC,  # English or Welsh for the tenant pages (issue 15)
    ("GET", "/tenant/link/<token>"): _PUBLIC,
    ("POST", "/tenant/link/<token>"): _PUBLIC,
    ("GET", "/tenant/"): _TENANT,
    ("GET", "/tenant/report"): _TENANT,
    ("POST", "/tenant/report"): _TENANT,
    ("GET", "/tenant/report/sent"): _TENANT,
    ("POST", "/tenant/sign-out"): _TENANT,
}

#: Flask's own route for the styles and scripts (no data; not one of ours).
NOT_IN_TABLE = {("GET", "/assets/<path:filename>")}
