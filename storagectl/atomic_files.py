"""Atomic, serialized file writes, and the lock that serializes them.

Every file storagectl writes and later reads (stack files, media manifests, checksum caches,
a local stack's outputs) is written by `write_atomic`:

- Writers are serialized by an exclusive OS lock (`fcntl.flock`) on `.<name>.lock` beside the
  file. The lock is re-entrant within a process, so a stack edit holds it across read, check
  and replace while the write inside takes it again. A second writer waits up to
  `lock_wait_seconds()`, then gets `LockTimeout` (one line, naming the holder's pid).
- The new content goes to `.<name>.tmp` beside the file, is fsynced, renamed over the file,
  and the directory is fsynced: a reader, a crash or a kill sees the old file or the new one,
  never half of it, and a file that did not exist appears only complete.
- A temp file that a killed writer left behind (that name, or the random names of earlier
  versions) is removed by the next writer as soon as it holds the lock: only the lock holder
  can have a temp file in progress.
- `private=True` files are created 0600 and missing parent directories 0700, whatever the
  umask; other new files get the usual 0666 minus the umask, and an existing file keeps its mode.

The lock file stays in place: deleting it would let two writers lock two different inodes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LOCK_WAIT_SECONDS = 30.0
"""How long a second writer waits for the lock by default."""
LOCK_WAIT_ENV = "STORAGECTL_LOCK_WAIT_SECONDS"
"""Overrides LOCK_WAIT_SECONDS (seconds, a number >= 0)."""
_POLL_SECONDS = (0.01, 0.02, 0.05, 0.1, 0.2)
"""Back-off between attempts to take a held lock; the last step repeats."""


class LockTimeout(OSError):
    """Another writer held the lock for longer than the wait allows (an OSError, so a caller that reports
    failed writes reports this one too)."""

    def __init__(self, target: Path, lock: Path, waited: float, holder: str | None) -> None:
        self.target, self.lock, self.waited, self.holder = target, lock, waited, holder
        super().__init__(self.describe(str(target)))

    def describe(self, name: str) -> str:
        """The one line to show, naming the file as `name`."""
        held_by = f" (held by pid {self.holder})" if self.holder else ""
        return (
            f"{name}: another storagectl command is writing it{held_by}; waited {self.waited:g} s for "
            f"{self.lock.name}, nothing written; run this command again when that one has finished"
        )


class ConcurrentChange(Exception):
    """The file changed on disk between reading and writing it."""


def lock_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.lock")


def temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp")


def debris(target: Path) -> list[Path]:
    """Temp files a killed writer of `target` may have left: the fixed name, and the random ones
    (`.<name>.XXXXXXXX.tmp`, tempfile.mkstemp's) earlier versions wrote."""
    found = [temp_path(target)] if os.path.lexists(temp_path(target)) else []
    pattern = os.path.join(glob.escape(str(target.parent)), glob.escape(f".{target.name}.") + "?" * 8 + ".tmp")
    return found + [Path(name) for name in sorted(glob.glob(pattern, include_hidden=True))]


def lock_wait_seconds() -> float:
    raw = os.environ.get(LOCK_WAIT_ENV)
    if raw is None:
        return LOCK_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        return LOCK_WAIT_SECONDS
    return value if 0 <= value < 86400 else LOCK_WAIT_SECONDS


@dataclass
class _Held:
    """This process's hold on one lock file: threads take `mutex`, the first of them the flock."""

    mutex: threading.RLock = field(default_factory=threading.RLock)
    fd: int | None = None
    depth: int = 0


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


def _holder(lock: Path) -> str | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = lock.read_text(encoding="ascii").strip()
        return text if text.isascii() and text.isdigit() else None
    return None


def _open_lock(lock: Path, private: bool) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(lock, flags, 0o600 if private else 0o666)
    if private:
        os.fchmod(fd, 0o600)
    return fd


def _take(fd: int, deadline: float) -> bool:
    """flock(LOCK_EX) on `fd`, retrying with back-off until `deadline`; False when it passed."""
    for attempt in range(1_000_000):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(remaining, _POLL_SECONDS[min(attempt, len(_POLL_SECONDS) - 1)]))
    return False


@contextlib.contextmanager
def locked(target: Path, *, private: bool = False, wait: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock of `target` (re-entrant in this process); LockTimeout after `wait` seconds.

    Taking it first also removes what a killed writer left behind (`debris`).
    """
    wait = lock_wait_seconds() if wait is None else wait
    lock = lock_path(target)
    key = os.path.abspath(lock)
    with _HELD_GUARD:
        held = _HELD.setdefault(key, _Held())
    started = time.monotonic()
    if not (held.mutex.acquire(timeout=wait) if wait > 0 else held.mutex.acquire(blocking=False)):
        raise LockTimeout(target, lock, wait, _holder(lock))
    try:
        if held.depth == 0:
            if private:
                make_private_dirs(target.parent)
            fd = _open_lock(lock, private)
            try:
                if not _take(fd, started + wait):
                    raise LockTimeout(target, lock, wait, _holder(lock))
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except BaseException:
                os.close(fd)
                raise
            held.fd = fd
            for path in debris(target):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                fd, held.fd = held.fd, None
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                os.close(fd)  # closing the last descriptor releases the flock
    finally:
        held.mutex.release()


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and missing parents 0700 (whatever the umask); existing ones are left as they are."""
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
            os.chmod(path, 0o700)


def _kept_mode(target: Path, private: bool) -> int | None:
    """The mode the new file must have: 0600 when private, the replaced file's own; None for a new file
    that is not private (created 0666, which the umask narrows as for any new file)."""
    if private:
        return 0o600
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_current(target: Path) -> bytes | None:
    try:
        return target.read_bytes()
    except FileNotFoundError:
        return None


def write_atomic(
    path: Path, text: str | bytes, *, expected: str | None = None, private: bool = False, wait: float | None = None
) -> None:
    """Replace `path` with `text` so that a reader (or a crash) sees the old or the new file, never half.

    Holds the lock of `path` while it writes (re-entrant: an edit cycle may already hold it).
    `expected` (the text the caller read) guards against overwriting an edit made meanwhile
    by something that does not take the lock (an editor): ConcurrentChange.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    with locked(path, private=private, wait=wait):
        if expected is not None:
            current = read_current(path)
            if current is None or current != expected.encode("utf-8"):
                raise ConcurrentChange(str(path))
        mode = _kept_mode(path, private)
        temp = temp_path(path)
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(temp, flags, 0o666 if mode is None else mode)
        try:
            try:
                if mode is not None:
                    os.fchmod(fd, mode)  # exactly this mode: the umask may have taken bits off
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        _fsync_directory(path.parent)
