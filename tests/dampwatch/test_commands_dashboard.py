"""The dashboard's commands: serve, users, teams, and the end of the demo."""

from __future__ import annotations

import http.cookiejar
import re
import shutil
import signal
import socket
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.model import AuditEvent, Team, User
from dampwatch import commands_dashboard
from dampwatch.cli import Context
from dampwatch.commands_dashboard import COMMANDS, make_server, serve_demo, server_url, teams, users
from dashboard.demo import DEMO_STAFF
from tests.dashboard.conftest import start_serve

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def context(settings, tmp_path, _migrated_database_file):
    """A command context on a fresh app database."""
    shutil.copyfile(_migrated_database_file, tmp_path / "app.db")
    ctx = Context(settings.model_copy(update={"web_secret_key": "test-secret-key"}))
    yield ctx
    ctx.close()


def run(command, args, context, input: str | None = None):
    return CliRunner().invoke(command, args, obj=context, input=input, catch_exceptions=False)


def _users(context) -> dict[str, User]:
    with context.database.session() as session:
        return {user.email: user for user in session.scalars(select(User))}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_module_offers_its_commands_for_registration():
    """COMMANDS lists the commands cli.py adds with main.add_command."""
    assert [command.name for command in COMMANDS] == ["serve", "users", "teams"]


def test_users_create_from_a_password_file(context, tmp_path):
    """An admin made from the command line can sign in with the password from the file; it is audited."""
    password_file = tmp_path / "password"
    password_file.write_text("a long enough password\n")
    result = run(users, ["create", "--email", "Boss@Example.org", "--name", "Bo Boss", "--role", "admin",
                         "--password-file", str(password_file)], context)
    assert result.exit_code == 0, result.output
    assert "added Bo Boss <boss@example.org> as admin" in result.output
    user = _users(context)["boss@example.org"]
    from dashboard.auth import check_password

    assert check_password(user.password_hash, "a long enough password")
    with context.database.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created"))
        assert (event.actor, event.object_id) == ("dampwatch users create", str(user.id))


def test_users_create_asks_for_the_password_twice(context):
    """Without --password-file the password is asked for, hidden, and confirmed."""
    result = run(users, ["create", "--email", "o@example.org", "--name", "O", "--role", "officer"], context,
                 input="a long enough password\na long enough password\n")
    assert result.exit_code == 0, result.output
    assert "a long enough password" not in result.output
    assert "o@example.org" in _users(context)


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "repair"], "Select the team of a repair team member"),
    (["--role", "repair", "--team", "West team"], "there is no team called 'West team' (teams: North team)"),
    (["--role", "officer", "--email", "taken@example.org"], "There is already a user with this email address"),
])
def test_users_create_refuses_mistakes(context, tmp_path, args, message):
    """A repair member needs an existing team, and an email address is used once."""
    password_file = tmp_path / "password"
    password_file.write_text("a long enough password")
    run(teams, ["create", "North team", "--capacity", "3"], context)
    base = ["create", "--email", "new@example.org", "--name", "N", "--password-file", str(password_file)]
    run(users, [*base[:2], "taken@example.org", *base[3:], "--role", "officer"], context)
    result = run(users, [*base, *args], context)
    assert result.exit_code == 1
    assert message in result.output


def test_users_create_refuses_a_short_password(context, tmp_path):
    """Passwords have a minimum length."""
    password_file = tmp_path / "password"
    password_file.write_text("short")
    result = run(users, ["create", "--email", "a@example.org", "--name", "A", "--role", "officer",
                         "--password-file", str(password_file)], context)
    assert result.exit_code == 1
    assert "Password must be 10 characters or more" in result.output


def test_repair_member_joins_a_team_and_users_list_shows_everyone(context, tmp_path):
    """teams create then users create --team; users list shows role, team and status."""
    password_file = tmp_path / "password"
    password_file.write_text("a long enough password")
    result = run(teams, ["create", "North team", "--capacity", "4", "--districts", "ls6, LS7"], context)
    assert "added North team: 4 inspections a day, districts LS6 LS7" in result.output
    run(users, ["create", "--email", "r@example.org", "--name", "Rhys", "--role", "repair", "--team", "north team",
                "--password-file", str(password_file)], context)
    result = run(users, ["list"], context)
    line = next(line for line in result.output.splitlines() if "r@example.org" in line)
    assert re.search(r"Rhys\s.*repair\s.*North team\s.*yes\s.*never", line)


def test_teams_create_refuses_a_duplicate(context):
    """Team names are unique, ignoring case."""
    run(teams, ["create", "North team", "--capacity", "4"], context)
    result = run(teams, ["create", "NORTH TEAM", "--capacity", "2"], context)
    assert result.exit_code == 1
    assert "There is already a team called North team" in result.output


def test_users_set_password(context, tmp_path):
    """set-password gives an existing user a new password (for when no admin can sign in)."""
    password_file = tmp_path / "password"
    password_file.write_text("first long password")
    run(users, ["create", "--email", "a@example.org", "--name", "A", "--role", "admin",
                "--password-file", str(password_file)], context)
    password_file.write_text("second long password")
    result = run(users, ["set-password", "a@example.org", "--password-file", str(password_file)], context)
    assert result.exit_code == 0, result.output
    from dashboard.auth import check_password

    assert check_password(_users(context)["a@example.org"].password_hash, "second long password")
    result = run(users, ["set-password", "nobody@example.org", "--password-file", str(password_file)], context)
    assert result.exit_code == 1 and "no user with the email address" in result.output


def test_users_set_password_revokes_tokens_unless_kept(context, tmp_path):
    """A new password from the command line revokes the person's API tokens; --keep-tokens keeps them."""
    from core.model import ApiToken

    password_file = tmp_path / "password"
    password_file.write_text("first long password")
    run(users, ["create", "--email", "a@example.org", "--name", "A", "--role", "officer",
                "--password-file", str(password_file)], context)
    for name in ("Repairs system", "Housing system"):
        run(users, ["token", "create", "--email", "a@example.org", "--name", name], context)
    password_file.write_text("second long password")
    kept = run(users, ["set-password", "a@example.org", "--password-file", str(password_file), "--keep-tokens"],
               context)
    assert kept.exit_code == 0 and "revoked" not in kept.output
    with context.database.session() as session:
        assert session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all() != []
    result = run(users, ["set-password", "a@example.org", "--password-file", str(password_file)], context)
    assert "their API tokens were revoked" in result.output
    with context.database.session() as session:
        assert session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all() == []


def _opener() -> urllib.request.OpenerDirector:
    """A browser-like client: keeps cookies, does not follow redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)


def _sign_in_over_http(opener, base: str, email: str, password: str) -> int:
    """Sign in like a browser; the status of the start page it then opens (or of the failed sign-in)."""
    page = opener.open(base + "sign-in").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    try:
        response = opener.open(base + "sign-in", data=data)
    except urllib.error.HTTPError as exc:  # the 302 that says it worked arrives as an "error"
        if exc.code != 302:
            return exc.code
        start = urllib.parse.urljoin(base, exc.headers["Location"])
        return opener.open(start).status  # only 200 if the browser kept the session cookie
    return response.status


def test_make_server_serves_the_dashboard_over_http(context):
    """waitress answers real HTTP requests with the dashboard's pages and headers."""
    server = make_server(context, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        response = urllib.request.urlopen(server_url(server) + "sign-in", timeout=10)
        assert response.status == 200
        assert "Sign in to DampWatch" in response.read().decode()
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Server"] == "DampWatch"
    finally:
        server.close()
        thread.join(5)


def test_dampwatch_serve_runs_until_sigterm(settings, tmp_path, _migrated_database_file):
    """'dampwatch serve' logs its address, serves the sign-in page and stops cleanly on SIGTERM."""
    process, port, logged = start_serve(tmp_path, settings, _migrated_database_file)
    try:
        assert f"dashboard at http://127.0.0.1:{port}/" in logged, logged
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/sign-in", timeout=10).status == 200
        assert (Path(tmp_path) / "secret_key").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert process.returncode == 0, process.stderr.read()


@click.command()
@click.pass_obj
def _demo_end(context) -> None:
    """What 'dampwatch demo' runs last."""
    serve_demo(context)


def test_serve_demo_prints_sign_ins_that_work(context, monkeypatch):
    """The demo's end prints one sign-in per role and the address; each sign-in works over plain http."""
    import dashboard.demo

    port = _free_port()
    context.settings = context.settings.model_copy(update={"web_port": port})
    printed: list[tuple[str, str, str]] = []
    statuses: dict[str, int] = {}
    real_seed = dashboard.demo.seed_demo_staff

    def seed(session):
        printed.extend(real_seed(session))
        return printed

    def serve_briefly(server) -> None:  # instead of serving until Ctrl-C: sign in as each, then stop
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            for _role, email, password in printed:
                statuses[email] = _sign_in_over_http(_opener(), server_url(server), email, password)
        finally:
            server.close()
            thread.join(5)

    monkeypatch.setattr(dashboard.demo, "seed_demo_staff", seed)
    monkeypatch.setattr(commands_dashboard, "run_until_stopped", serve_briefly)
    result = CliRunner().invoke(_demo_end, obj=context, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}/" in result.output
    assert sorted(role for role, _, _ in printed) == sorted(role for role, *_ in DEMO_STAFF)
    for _role, email, password in printed:
        assert email in result.output and password in result.output
        assert statuses[email] == 200, email
    with context.database.session() as session:
        assert {(t.name, t.daily_capacity) for t in session.scalars(select(Team))} == {
            ("North team", 4), ("South team", 3)}


def test_demo_staff_get_new_passwords_when_seeded_again(context):
    """Seeding twice keeps the same accounts and gives them new passwords."""
    from dashboard.auth import check_password
    from dashboard.demo import seed_demo_staff

    with context.database.session() as session:
        first = seed_demo_staff(session)
    with context.database.session() as session:
        second = seed_demo_staff(session)
    assert [(role, email) for role, email, _ in first] == [(role, email) for role, email, _ in second]
    users_now = _users(context)
    assert len(users_now) == len(DEMO_STAFF)
    for (_, email, old), (_, _, new) in zip(first, second, strict=True):
        assert old != new
        assert check_password(users_now[email].password_hash, new)

