"""The dashboard's commands: ``serve``, ``users create|list|set-password|token create`` and ``teams create``.

``dampwatch/cli.py`` registers ``COMMANDS``; each command gets the :class:`dampwatch.cli.Context` (settings,
app database, readings store). ``serve_demo`` is what ``dampwatch demo`` ends with: demo sign-ins printed
once, then the dashboard on the simulated estate until Ctrl-C. This module imports ``dampwatch.cli`` only
inside functions, so either module can be imported first.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from core.errors import DampWatchError
from dampwatch.commands_common import console, out, pass_context

logger = logging.getLogger(__name__)


#: Threads answering requests; each holds at most one database connection at a time.
SERVER_THREADS = 8




# -- serve ------------------------------------------------------------------------------------------------


def make_server(context, *, host: str | None = None, port: int | None = None, threads: int = SERVER_THREADS,
                settings=None, sock=None):
    """The dashboard in waitress (a production WSGI server), bound but not yet serving.

    ``server.effective_port`` is the port it got; ``server.run()`` serves until ``server.close()``.
    ``sock``: an already listening socket to accept from (``dampwatch serve --processes``) instead of binding.
    """
    import waitress

    from dashboard import create_app

    settings = settings or context.settings
    app = create_app(settings, database=context.database, store=context.store)
    where = {"sockets": [sock]} if sock is not None else {
        "host": host or settings.web_host, "port": settings.web_port if port is None else port}
    return waitress.create_server(app, **where, threads=threads, ident="DampWatch",
                                  clear_untrusted_proxy_headers=True)


def server_url(server) -> str:
    """The address a server listens on, as a URL to open."""
    host = server.effective_host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.effective_port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_until_stopped(server) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the listening socket."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        logger.info("stopping the dashboard")
    finally:
        server.close()


@click.command("serve")
@click.option("--host", help="Address to listen on (default DAMPWATCH_WEB_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on (default DAMPWATCH_WEB_PORT).")
@click.option("--threads", default=SERVER_THREADS, show_default=True, type=click.IntRange(1, 64),
              help="Requests answered at once (per process).")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the port; about one per processor core (needs os.fork).")
@pass_context
def serve(context, host: str | None, port: int | None, threads: int, processes: int) -> None:
    """Serve the dashboard with waitress until stopped (Ctrl-C or SIGTERM)."""
    from dashboard import serving

    settings = context.settings
    try:
        took = serving.warm(context.database)
        logger.info("portfolio summary's figures computed in %.1f s", took)
        if processes > 1:
            sock = serving.listening_socket(host or settings.web_host,
                                            settings.web_port if port is None else port)
            server = None
        else:
            server = make_server(context, host=host, port=port, threads=threads)
    except OSError as exc:
        raise click.ClickException(f"the dashboard cannot listen on {host or settings.web_host}:"
                                   f"{port or settings.web_port}: {exc.strerror}; choose another port "
                                   "with --port or DAMPWATCH_WEB_PORT") from exc
    if settings.web_public_url.startswith("http://") and settings.web_cookie_secure \
            and not _is_loopback(server.effective_host if server is not None else sock.getsockname()[0]):
        logger.warning("session cookies are Secure but %s is plain http: serve the dashboard behind HTTPS "
                       "(a reverse proxy) or browsers will not keep the sign-in", settings.web_public_url)
    if server is None:
        address = sock.getsockname()
        logger.info("dashboard at http://%s:%d/ (%d processes of %d threads; people reach it at %s)",
                    f"[{address[0]}]" if ":" in address[0] else address[0], address[1], processes, threads,
                    settings.web_public_url)
        try:
            serving.serve_processes(context, processes, lambda sock: make_server(context, threads=threads, sock=sock),
                                    run_until_stopped, sock)
        except serving.ServingError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    logger.info("dashboard at %s (%d threads; people reach it at %s)", server_url(server), threads,
                settings.web_public_url)
    refresher = serving.Refresher(context.database).start()
    try:
        run_until_stopped(server)
    finally:
        refresher.stop()


def serve_demo(context) -> None:
    """End of ``dampwatch demo``: make the demo's staff, print the address and sign-ins, serve until Ctrl-C.

    On a loopback address the session cookie is not marked Secure, so every browser keeps it over plain
    http://127.0.0.1 (the demo is local; ``dampwatch serve`` follows DAMPWATCH_WEB_COOKIE_SECURE).
    """
    from dashboard.demo import seed_demo_staff

    settings = context.settings
    if _is_loopback(settings.web_host):
        settings = settings.model_copy(update={"web_cookie_secure": False})
    with context.database.session() as session:
        sign_ins = seed_demo_staff(session)
    try:
        server = make_server(context, settings=settings)
    except OSError as exc:
        raise click.ClickException(f"the dashboard cannot listen on {settings.web_host}:{settings.web_port}: "
                                   f"{exc.strerror}; set DAMPWATCH_WEB_PORT to a free port") from exc
    table = Table("role", "email address", "password", title="Demo sign-ins (shown once)")
    for role, email, password in sign_ins:
        table.add_row(role, email, password)
    out.print(table)
    out.print(f"\nthe dashboard is running at [bold]{server_url(server)}[/] on the simulated estate; "
              "press Ctrl-C to stop it")
    run_until_stopped(server)


# -- users and teams ------------------------------------------------------------------------------------


def _read_password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise click.ClickException(f"cannot read {password_file}: {exc.strerror}") from exc
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("users")
def users() -> None:
    """Staff who sign in to the dashboard: add them, list them, set a password."""


@users.command("create")
@click.option("--email", required=True, help="Email address; the person signs in with it.")
@click.option("--name", required=True, help="Full name, as shown in the dashboard and the audit log.")
@click.option("--role", required=True, type=click.Choice(["officer", "repair", "manager", "admin"]),
              help="officer (housing officer), repair (repair team member), manager or admin.")
@click.option("--team", "team_name", help="The repair team (needed for --role repair).")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the password from this file (otherwise you are asked for it).")
@pass_context
def users_create(context, email: str, name: str, role: str, team_name: str | None,
                 password_file: Path | None) -> None:
    """Add a member of staff (the first admin, for one); audited as 'dampwatch users create'."""
    from dashboard.people import create_user

    password = _read_password(password_file)
    try:
        with context.database.session() as session:
            team_id = _team_id(session, team_name)
            user = create_user(session, email=email, name=name, role=role, team_id=team_id, password=password,
                               actor="dampwatch users create")
            summary = f"added {user.name} <{user.email}> as {role}" + (f" in {team_name}" if team_id else "")
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    out.print(summary)


def _team_id(session, team_name: str | None) -> int | None:
    from sqlalchemy import func, select

    from core.model import Team

    if not team_name:
        return None
    team = session.scalar(select(Team).where(func.lower(Team.name) == team_name.strip().lower()))
    if team is None:
        names = ", ".join(session.scalars(select(Team.name).order_by(Team.name))) or "none yet"
        raise click.ClickException(f"there is no team called {team_name!r} (teams: {names}); "
                                   "add it with: dampwatch teams create NAME --capacity N")
    return team.id


@users.command("list")
@pass_context
def users_list(context) -> None:
    """List every member of staff with their role, team and last sign-in."""
    from sqlalchemy import select

    from core.model import User

    with context.database.session() as session:
        rows = session.scalars(select(User).order_by(User.active.desc(), User.email)).all()
        table = Table("email", "name", "role", "team", "active", "last sign-in (UTC)")
        for user in rows:
            table.add_row(user.email, user.name, user.role, user.team.name if user.team else "",
                          "yes" if user.active else "no",
                          user.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if user.last_sign_in_at else "never")
    out.print(table)


@users.command("set-password")
@click.argument("email")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the password from this file (otherwise you are asked for it).")
@click.option("--keep-tokens", is_flag=True, help="Keep the person's API tokens working (they are revoked otherwise).")
@pass_context
def users_set_password(context, email: str, password_file: Path | None, keep_tokens: bool) -> None:
    """Give a member of staff a new password (their sessions and API tokens end); for when no admin can sign in."""
    from dashboard.people import find_user, reset_password

    password = _read_password(password_file)
    try:
        with context.database.session() as session:
            user = find_user(session, email)
            if user is None:
                raise click.ClickException(f"there is no user with the email address {email}")
            reset_password(session, user, actor="dampwatch users set-password", password=password,
                           keep_tokens=keep_tokens)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    out.print(f"set a new password for {email}; their sessions ended"
              + ("" if keep_tokens else " and their API tokens were revoked"))


@users.group("token")
def users_token() -> None:
    """API tokens for the council's other systems."""


@users_token.command("create")
@click.option("--email", required=True, help="Whose token: an officer, manager or admin.")
@click.option("--name", required=True, help="Which system will use it, for example 'Repairs system'.")
@pass_context
def users_token_create(context, email: str, name: str) -> None:
    """Make an API token and print it once (only its SHA-256 is kept)."""
    from dashboard.api_tokens import create_token
    from dashboard.people import find_user

    try:
        with context.database.session() as session:
            user = find_user(session, email)
            if user is None:
                raise click.ClickException(f"there is no user with the email address {email}")
            token = create_token(session, user, name, actor="dampwatch users token create")
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"made API token {name!r} for {email}; it is shown only now, so copy it:")
    click.echo(token)


@click.group("teams")
def teams() -> None:
    """Repair teams: who inspects homes, and how many a day."""


@teams.command("create")
@click.argument("name")
@click.option("--capacity", required=True, type=click.IntRange(0, 50), help="Inspections the team can do a day.")
@click.option("--districts", default="", help="Postcode districts the team covers, e.g. 'LS6 LS7' (default: anywhere).")
@pass_context
def teams_create(context, name: str, capacity: int, districts: str) -> None:
    """Add a repair team; audited as 'dampwatch teams create'."""
    from dashboard.people import save_team

    try:
        with context.database.session() as session:
            team = save_team(session, None, name=name, daily_capacity=capacity, districts=districts,
                             actor="dampwatch teams create")
            summary = f"added {team.name}: {team.daily_capacity} inspections a day, " \
                      f"{'districts ' + team.districts if team.districts else 'anywhere'}"
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    out.print(summary)


COMMANDS: list[click.Command] = [serve, users, teams]
