"""One `register` run per state file: an exclusive lock taken before any remote call.

Two runs on one state file would both find the folder missing and create it, and both send
every file (issue: two folders, duplicate items, a report counting units twice). The lock
is `fcntl.flock` on a sidecar file, `<state>.lock`, holding the holder as JSON (pid, host,
start time) so that a refused run can say who has it.

Who holds the lock is decided by the kernel, never by the pid in the file: the kernel
releases a flock when its process exits, however it exits (SIGKILL included). So:
- a lock file left by a run that died is recovered by the next run on the same host, with
  a warning; a pid reused since by another process changes nothing, because liveness is
  never judged by pid;
- a lock file written on another host (a copied or restored state directory, a container
  with another host name, a shared disk) is refused: this host cannot see that host's
  processes, and some network file systems keep flocks local to each client. The error
  says to delete the lock file (never the state file) once no run is going on there.

The lock file is removed when the run ends. It is unlinked while still locked, and a run
that locked a file which is no longer the one at the path (removed in between) tries
again, so two runs can never hold two different lock files of one state file.
Within one process the lock is re-entrant for the thread that holds it, so the CLI can
take it before building files while `run.register` also holds it for library callers.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import orjson

from registration.errors import UsageError, troubleshooting
from registration.reporter import SILENT, Reporter

LOCK_SUFFIX: Final = ".lock"
"""The lock file is the state file's path with this appended."""
_READ_TRIES: Final = 20
_READ_PAUSE: Final = 0.025
"""A run that just took the lock writes its holder a moment later: re-read for up to 0.5 s."""
_OPEN_TRIES: Final = 10
"""Attempts when the lock file is replaced between opening and locking it (a release)."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) a state file's lock, as written into the lock file."""

    pid: int
    host: str
    started_at: str

    @classmethod
    def this_process(cls) -> LockHolder:
        """The holder record of the running process."""
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def describe(self) -> str:
        """`pid 123 on host h, started 2026-01-01T10:00:00+00:00`."""
        return f"pid {self.pid} on host {self.host}, started {self.started_at}"


class StateInUse(UsageError):
    """Another run holds the state file's lock, or held it on a host this one cannot check."""

    def __init__(
        self, message: str, *, state: Path, lock_file: Path, holder: LockHolder | None, hint: str
    ) -> None:
        super().__init__(message, hint=hint)
        self.state = state
        self.lock_file = lock_file
        self.holder = holder


def lock_path(state: Path) -> Path:
    """The lock file of `state` (symlinks and `..` resolved, so every spelling shares it)."""
    resolved = state.resolve()
    return resolved.with_name(resolved.name + LOCK_SUFFIX)


@dataclass
class _Held:
    fd: int
    thread: int
    holder: LockHolder
    depth: int = 1


_held: dict[Path, _Held] = {}
_held_guard = threading.Lock()


@contextmanager
def hold_state_lock(
    state: Path, reporter: Reporter = SILENT, *, create: bool = True
) -> Iterator[LockHolder]:
    """Hold the exclusive lock of `state` for the body; raise StateInUse when it is taken.

    Take it before any remote call. A lock left by a dead run on this host is recovered
    (reported to `reporter`). Yields this process's holder record. With `create` False
    (a dry run, which creates nothing) and no directory for the state yet, there is no
    state to protect: nothing is locked or created.
    """
    if not create and not state.parent.is_dir():
        yield LockHolder.this_process()
        return
    path = lock_path(state)
    with _held_guard:
        mine = _held.get(path)
        if mine is not None and mine.thread != threading.get_ident():
            raise _in_use(state, path, mine.holder)
        if mine is not None:
            mine.depth += 1
    if mine is None:
        mine = _acquire(state, path, reporter)
        with _held_guard:
            _held[path] = mine
    try:
        yield mine.holder
    finally:
        with _held_guard:
            mine.depth -= 1
            last = mine.depth == 0
            if last:
                del _held[path]
        if last:
            _release(path, mine.fd)


def _acquire(state: Path, path: Path, reporter: Reporter) -> _Held:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_lock(state, path, exc) from None
    for _ in range(_OPEN_TRIES):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _cannot_lock(state, path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd, wait=True)
            os.close(fd)
            raise _in_use(state, path, holder) from None
        except OSError as exc:
            os.close(fd)
            raise _cannot_lock(state, path, exc) from None
        if not _is_current(fd, path):  # released and removed while we were opening it
            os.close(fd)
            continue
        try:
            return _take_over(state, path, fd, reporter)
        except OSError as exc:  # writing the holder failed (disk full, ...)
            os.close(fd)
            raise _cannot_lock(state, path, exc) from None
        except BaseException:
            os.close(fd)
            raise
    raise _cannot_lock(state, path, OSError(errno.EAGAIN, "the lock file kept being replaced"))


def _take_over(state: Path, path: Path, fd: int, reporter: Reporter) -> _Held:
    """Locked: check what an earlier holder left, then write this process as the holder."""
    me = LockHolder.this_process()
    left = _read_holder(fd, wait=False)
    if left is not None and left.host != me.host:
        raise StateInUse(
            f"the state file {state} was locked by {left.describe()}; this host ({me.host}) "
            "cannot tell whether that run is still going on",
            state=state,
            lock_file=path,
            holder=left,
            hint=f"if no encord-register run is using this state file on {left.host} any more "
            "(the run was killed, or the directory was copied from there), delete the lock "
            f"file {path}, never the state file (it records what is registered), and run "
            f"again; {troubleshooting('resuming')}",
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, orjson.dumps(me), 0)
    os.fsync(fd)
    if left is not None:
        reporter.warn(
            f"recovered the lock of {state} left by {left.describe()}: that run ended "
            "without releasing it (killed or crashed); this run resumes from its state"
        )
    return _Held(fd=fd, thread=threading.get_ident(), holder=me)


def _release(path: Path, fd: int) -> None:
    """Remove the lock file while still holding it, then unlock (by closing)."""
    try:
        if _is_current(fd, path):
            path.unlink()
    except OSError:
        pass  # left behind: the next run recovers it as stale
    finally:
        os.close(fd)


def _is_current(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)


def _read_holder(fd: int, *, wait: bool) -> LockHolder | None:
    """The holder recorded in the lock file, or None when empty or unreadable."""
    for _ in range(_READ_TRIES if wait else 1):
        try:
            data = orjson.loads(os.pread(fd, 4096, 0))
            return LockHolder(
                pid=int(data["pid"]), host=str(data["host"]), started_at=str(data["started_at"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OSError):
            if wait:
                time.sleep(_READ_PAUSE)
    return None


def _in_use(state: Path, path: Path, holder: LockHolder | None) -> StateInUse:
    who = holder.describe() if holder else "a process that has not written its name yet"
    stop = f" (Ctrl-C, or `kill {holder.pid}` on {holder.host})" if holder else ""
    return StateInUse(
        f"the state file {state} is in use by another run of encord-register: {who}",
        state=state,
        lock_file=path,
        holder=holder,
        hint=f"wait for that run to finish, or stop it{stop}: it saves its progress and this "
        "command then resumes from it. Two runs on one state file would register the same "
        f"files twice; do not delete the state file or {path} while that run is alive",
    )


def _cannot_lock(state: Path, path: Path, exc: OSError) -> UsageError:
    if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
        return UsageError(
            f"cannot lock the state file {state}: the file system does not support file locks "
            f"({exc.strerror})",
            hint="put the state on a local disk with --state PATH",
        )
    return UsageError(
        f"cannot lock the state file {state}: cannot write {path}: {exc.strerror or exc}",
        hint="check that the state directory exists and is writable, or pass --state PATH",
    )
