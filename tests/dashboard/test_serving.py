"""``dampwatch serve --processes N`` and the portfolio figures computed ahead (dashboard.serving)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from core.db import Database
from core.model import Property
from dashboard import portfolio, serving
from tests.dashboard.conftest import start_serve

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``, read from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, ...
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _wait_for(condition, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return condition()


def test_serve_with_processes_shares_the_port_replaces_a_dead_copy_and_stops_them_all(
        settings, tmp_path, _migrated_database_file):
    """Two copies answer on one port; one killed is replaced and the site keeps answering; SIGTERM ends all."""
    process, port, logged = start_serve(tmp_path, settings, _migrated_database_file, "--processes", "2",
                                        "--threads", "2")
    try:
        assert f"dashboard at http://127.0.0.1:{port}/ (2 processes of 2 threads" in logged, logged
        copies = _wait_for(lambda: len(_children(process.pid)) == 2 and _children(process.pid))
        assert copies and len(copies) == 2
        for _ in range(6):
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/sign-in", timeout=10).status == 200

        victim = min(copies)
        os.kill(victim, signal.SIGKILL)
        replaced = _wait_for(lambda: (lambda now: len(now) == 2 and victim not in now and now)(_children(process.pid)))
        assert replaced, f"the killed copy {victim} was not replaced: {_children(process.pid)}"
        for _ in range(6):
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/sign-in", timeout=10).status == 200
        last = set(replaced)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.returncode == 0, process.stderr.read()
    for pid in last:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/sign-in", timeout=5)


def test_serve_refuses_processes_without_fork(monkeypatch, tmp_path):
    """Where os.fork is missing, --processes above 1 is refused with what to do instead."""
    monkeypatch.delattr(os, "fork", raising=False)
    sock = serving.listening_socket("127.0.0.1", 0)
    with pytest.raises(serving.ServingError, match="reverse proxy"):
        serving.serve_processes(None, 2, lambda sock: None, lambda server: None, sock)
    sock.close()


def test_the_refresher_computes_the_summary_again_when_the_data_changes(settings, tmp_path, _migrated_database_file):
    """After a home is registered, the refresher puts the new figures in the cache before anyone asks."""
    shutil.copyfile(_migrated_database_file, tmp_path / "app.db")
    database = Database(settings.database_url, migrate=False)
    portfolio.CACHE.clear()
    try:
        serving.warm(database)
        with database.session() as session:
            before = portfolio.data_version(session)
            session.add(Property(uprn="100000000001", address="1 Test Row", postcode="LS6 1AA", site="Test Court"))
        with database.session() as session:
            after = portfolio.data_version(session)
        assert after != before

        def kept_versions() -> set:
            return {key[2] for key in portfolio.CACHE._items if key[1] == "sites"}

        assert after not in kept_versions()
        refresher = serving.Refresher(database, interval_s=0.1).start()
        try:
            assert _wait_for(lambda: after in kept_versions(), 20)
        finally:
            refresher.stop()
        with database.session() as session:
            sites, whole, _weeks = portfolio.summary_figures(session, dt.datetime.now(dt.UTC))
        assert [site.site for site in sites] == ["Test Court"]
        assert whole.homes == 1
    finally:
        portfolio.CACHE.clear()
        database.dispose()
