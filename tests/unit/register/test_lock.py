"""The state file's lock: one holder at a time, named when refused, recovered when its holder died.

Other holders are real processes (`tests.lock_holder`); the state file's own messages
never invite deleting a live state file.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from registration.cli.console import Console
from registration.errors import UsageError
from registration.exit_codes import ExitStatus
from registration.register.lock import LockHolder, StateInUse, hold_state_lock, lock_path
from registration.register.state import StateStore
from tests.lock_holder import held_by_another_process


def finished_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def write_lock_file(state: Path, pid: int, host: str) -> Path:
    """A lock file as a run leaves it when it is killed: holder JSON, no flock held."""
    path = lock_path(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host, "started_at": "2026-01-02T03:04:05"}))
    return path


def test_the_holder_is_written_beside_the_state_and_removed_at_the_end(tmp_path: Path):
    state = tmp_path / "s" / "state.sqlite"
    with hold_state_lock(state) as me:
        recorded = json.loads((tmp_path / "s" / "state.sqlite.lock").read_text())
        assert recorded == {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": me.started_at,
        }
    assert not lock_path(state).exists()
    assert list((tmp_path / "s").iterdir()) == []  # no state file is created by the lock


def test_a_second_process_is_refused_with_the_holder_named(tmp_path: Path):
    state = tmp_path / "state.sqlite"
    with held_by_another_process(state) as holder:
        with pytest.raises(StateInUse) as refused, hold_state_lock(state):
            pytest.fail("two holders at once")
        error = refused.value
        assert error.exit_status is ExitStatus.USAGE
        assert error.holder is not None and error.holder.pid == holder.pid
        assert f"pid {holder.pid} on host {socket.gethostname()}, started 20" in str(error)
        assert "in use by another run of encord-register" in error.message
        assert "do not delete the state file" in str(error.hint)
        # The refused run left the holder's lock file as it was.
        assert json.loads(lock_path(state).read_text())["pid"] == holder.pid
    with hold_state_lock(state):  # released when the holder ended
        pass


def test_every_spelling_of_the_state_path_shares_one_lock(tmp_path: Path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with held_by_another_process(tmp_path / "real" / "state.sqlite"):
        for spelling in (
            tmp_path / "link" / "state.sqlite",
            tmp_path / "real/../real/state.sqlite",
        ):
            with pytest.raises(StateInUse), hold_state_lock(spelling):
                pass


def test_a_lock_left_by_a_killed_process_is_recovered_with_a_warning(tmp_path: Path):
    state = tmp_path / "state.sqlite"
    with held_by_another_process(state) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert json.loads(lock_path(state).read_text())["pid"] == holder.pid  # left behind
    err = io.StringIO()
    with hold_state_lock(state, Console(out=io.StringIO(), err=err)):
        assert json.loads(lock_path(state).read_text())["pid"] == os.getpid()
    assert f"recovered the lock of {state} left by pid {holder.pid} on host" in err.getvalue()
    assert not lock_path(state).exists()


@pytest.mark.parametrize("pid", ["dead", "reused"])
def test_a_stale_lock_file_of_this_host_is_recovered_whatever_its_pid(tmp_path: Path, pid):
    # Liveness is the kernel's flock, not the pid: a pid that now belongs to another
    # (live) process, here this one, does not make a stale lock look held.
    state = tmp_path / "state.sqlite"
    number = finished_pid() if pid == "dead" else os.getpid()
    write_lock_file(state, number, socket.gethostname())
    err = io.StringIO()
    with hold_state_lock(state, Console(out=io.StringIO(), err=err)):
        pass
    assert f"left by pid {number} on host {socket.gethostname()}" in err.getvalue()


def test_a_lock_file_from_another_host_is_refused_with_what_to_delete(tmp_path: Path):
    state = tmp_path / "state.sqlite"
    path = write_lock_file(state, 4242, "build-runner-7")
    before = path.read_text()
    with pytest.raises(StateInUse) as refused, hold_state_lock(state):
        pytest.fail("a lock of another host was taken over")
    text = str(refused.value)
    assert "locked by pid 4242 on host build-runner-7" in text
    assert f"delete the lock file {path}, never the state file" in text
    assert path.read_text() == before
    path.unlink()  # what the hint says to do
    with hold_state_lock(state):
        pass


def test_reentrant_in_the_holding_thread_refused_in_another(tmp_path: Path):
    state = tmp_path / "state.sqlite"
    refused: list[BaseException] = []

    def other_thread() -> None:
        try:
            with hold_state_lock(state):
                pass
        except StateInUse as exc:
            refused.append(exc)

    with hold_state_lock(state) as outer:
        with hold_state_lock(state) as inner:
            assert inner == outer
        assert lock_path(state).exists()  # the inner exit did not release it
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(refused) == 1
    assert not lock_path(state).exists()


def test_an_unusable_state_directory_is_a_usage_error(tmp_path: Path):
    (tmp_path / "a-file").write_text("")
    with (
        pytest.raises(UsageError, match="cannot lock the state file") as refused,
        hold_state_lock(tmp_path / "a-file" / "state.sqlite"),
    ):
        pass
    assert not isinstance(refused.value, StateInUse)


def test_the_holder_is_described_for_people():
    holder = LockHolder(pid=7, host="h", started_at="2026-01-02T03:04:05+00:00")
    assert holder.describe() == "pid 7 on host h, started 2026-01-02T03:04:05+00:00"


def test_a_locked_state_database_never_invites_removing_it(tmp_path, monkeypatch):
    path = tmp_path / "state.sqlite"
    StateStore(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, **{**k, "timeout": 0}))
    try:
        with pytest.raises(UsageError, match="database is locked") as refused:
            StateStore(path)
    finally:
        writer.rollback()
        writer.close()
    hint = str(refused.value.hint)
    assert "never move or delete a state file in use" in hint
    assert "move the broken file away" not in hint


def test_a_damaged_state_file_is_kept(tmp_path):
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"not a database at all, but sixteen bytes or more")
    with pytest.raises(UsageError) as refused:
        StateStore(path)
    hint = str(refused.value.hint)
    assert "keep it" in hint and "pass another --state path" in hint
    assert "move" not in hint and "delete" not in hint


def test_without_create_a_missing_state_directory_is_left_alone(tmp_path: Path):
    # A dry run creates nothing: with no state yet there is nothing to protect.
    state = tmp_path / "new" / "state.sqlite"
    with hold_state_lock(state, create=False):
        assert not (tmp_path / "new").exists()
    # Once the state exists, a dry run waits its turn like any run.
    state.parent.mkdir()
    with (
        held_by_another_process(state),
        pytest.raises(StateInUse),
        hold_state_lock(state, create=False),
    ):
        pass
