"""The portfolio summary and a page per estate or block: the view above the home.

A block where many flats are high risk for the same reason is a building problem, not many household
problems; these pages make that visible (``dashboard.portfolio`` has the queries and the building flag) and
show whether the portfolio is getting better week by week. Officers, managers and admins see every home,
so these pages are theirs (managers start their day on the summary).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for

from dashboard import portfolio
from dashboard.auth import roles_required
from dashboard.extensions import get_database
from dashboard.views.main import BAND_LABELS, cause_label, url_maker

bp = Blueprint("portfolio", __name__, url_prefix="/portfolio")

PORTFOLIO_ROLES = ("officer", "manager", "admin")
NAV_ITEMS = [("Portfolio", "portfolio.summary", PORTFOLIO_ROLES)]
#: Estates and blocks on one page of the summary (most at risk first); a landlord may have thousands.
SITES_PER_PAGE = 50


@bp.route("/")
@roles_required(*PORTFOLIO_ROLES)
def summary():
    """Estates and blocks by share at risk, and the portfolio's last weeks."""
    with get_database().session() as session:
        sites, whole, weeks = portfolio.summary_figures(session, dt.datetime.now(dt.UTC))
    pages = max(1, -(-len(sites) // SITES_PER_PAGE))
    try:
        page = min(max(1, int(request.args.get("page", "1"))), pages)
    except ValueError:
        page = 1
    shown = sites[(page - 1) * SITES_PER_PAGE:page * SITES_PER_PAGE]
    pagination: dict[str, Any] | None = None  # the GOV.UK pagination component's parameters
    if pages > 1:
        def href(number: int) -> str:
            return url_for("portfolio.summary", page=number if number > 1 else None) + "#sites"

        numbers = sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1)))
        items: list[dict] = []
        previous = 0
        for number in numbers:
            if number - previous > 1:
                items.append({"ellipsis": True})
            items.append({"number": number, "href": href(number), "current": number == page})
            previous = number
        pagination = {"items": items, "landmarkLabel": "Pages of estates and blocks"}
        if page > 1:
            pagination["previous"] = {"href": href(page - 1)}
        if page < pages:
            pagination["next"] = {"href": href(page + 1)}
    return render_template("portfolio/summary.html", sites=shown, site_count=len(sites), page=page, pages=pages,
                           first=(page - 1) * SITES_PER_PAGE + 1, pagination=pagination, whole=whole, weeks=weeks,
                           bands=portfolio.ALL_BANDS, band_labels=BAND_LABELS, cause_label=cause_label,
                           site_url=url_maker("portfolio.site", "site"))


@bp.route("/sites/<path:site>")
@roles_required(*PORTFOLIO_ROLES)
def site(site: str):
    """One estate or block: its homes' bands against the portfolio, the common cause, the building flag."""
    with get_database().session() as session:
        homes = portfolio.site_homes(session, site)
        if not homes:
            abort(404)
        _, whole = portfolio.cached(session, "sites", lambda: portfolio.site_summaries(session))
    this = portfolio.site_summary_of(site, homes)
    return render_template("portfolio/site.html", site=this, whole=whole, homes=homes,
                           flag=portfolio.building_flag(homes), bands=portfolio.ALL_BANDS,
                           band_labels=BAND_LABELS, cause_label=cause_label,
                           property_url=url_maker("main.property_page", "uprn"))
