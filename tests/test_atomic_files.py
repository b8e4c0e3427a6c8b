"""storagectl.atomic_files: writes serialized by an OS lock, never half, debris cleaned, private files private.

Lock holders and killed writers are real processes (subprocess), since flock is per process:
a thread of the test process would share the re-entrant hold.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storagectl.atomic_files import (
    ConcurrentChange,
    LockTimeout,
    debris,
    lock_path,
    locked,
    temp_path,
    write_atomic,
)
from tests.support.stacks import ROOT


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def held_elsewhere(target: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `target`'s lock until the block ends."""
    holder = _python(
        """
        import sys, time
        from pathlib import Path
        from storagectl.atomic_files import locked
        with locked(Path(sys.argv[1])):
            print("held", flush=True)
            time.sleep(60)
        """,
        str(target),
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_second_writer_waits_then_refuses_in_one_line_naming_the_holder(tmp_path: Path) -> None:
    target = tmp_path / "Pulumi.shop.yaml"
    target.write_text("old\n")
    with held_elsewhere(target) as holder:
        started = time.monotonic()
        with pytest.raises(LockTimeout) as refused:
            write_atomic(target, "new\n", wait=0.5)
        waited = time.monotonic() - started
    assert 0.5 <= waited < 10
    assert str(refused.value) == (
        f"{target}: another storagectl command is writing it (held by pid {holder.pid}); waited 0.5 s for "
        ".Pulumi.shop.yaml.lock, nothing written; run this command again when that one has finished"
    )
    assert "\n" not in str(refused.value)
    assert target.read_text() == "old\n"


def test_a_second_writer_proceeds_once_the_holder_is_done(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    with held_elsewhere(target) as holder:
        threading.Timer(0.5, holder.kill).start()
        write_atomic(target, "mine\n", wait=20)
    assert target.read_text() == "mine\n"


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    """flock belongs to the open file: the kernel drops it when a SIGKILLed holder's descriptors close."""
    target = tmp_path / "f.json"
    with held_elsewhere(target) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        write_atomic(target, "after the kill\n", wait=5)
    assert target.read_text() == "after the kill\n"


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    """An edit holds the lock across read, check and replace; the write inside takes it again."""
    target = tmp_path / "f.txt"
    target.write_text("before\n")
    with locked(target, wait=1):
        text = target.read_text()
        write_atomic(target, text.replace("before", "after"), expected=text, wait=1)
    assert target.read_text() == "after\n"


def test_threads_of_one_process_are_serialized_too(tmp_path: Path) -> None:
    target = tmp_path / "counter"
    target.write_text("0")

    def bump() -> None:
        for _ in range(20):
            with locked(target, wait=30):
                write_atomic(target, str(int(target.read_text()) + 1))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_text() == "80"


def test_refuses_to_overwrite_an_edit_made_without_the_lock(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("someone else's edit\n")
    with pytest.raises(ConcurrentChange):
        write_atomic(target, "mine\n", expected="what I read\n")
    assert target.read_text() == "someone else's edit\n"


def test_the_next_writer_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    """The fixed temp name, and the random names (`.<name>.XXXXXXXX.tmp`) earlier versions wrote."""
    target = tmp_path / "Pulumi.shop.yaml"
    target.write_text("old\n")
    temp_path(target).write_text("half")
    (tmp_path / ".Pulumi.shop.yaml.k2j4_x9a.tmp").write_text("half")
    (tmp_path / ".Pulumi.other.yaml.k2j4_x9a.tmp").write_text("not this target's")
    assert len(debris(target)) == 2
    write_atomic(target, "new\n")
    assert sorted(os.listdir(tmp_path)) == [
        ".Pulumi.other.yaml.k2j4_x9a.tmp",
        ".Pulumi.shop.yaml.lock",
        "Pulumi.shop.yaml",
    ]


def test_a_writer_killed_before_the_rename_leaves_the_old_file_and_debris_the_next_run_cleans(tmp_path: Path) -> None:
    """SIGKILL while the new content sits in the temp file (the rename held back): the file is
    still the old one, and the next writer, once it holds the lock, removes the temp file."""
    target = tmp_path / "outputs.json"
    target.write_text("old\n")
    writer = _python(
        """
        import os, sys, time
        from pathlib import Path
        from storagectl import atomic_files
        def stalled(*args):
            print("before rename", flush=True)
            time.sleep(60)
        atomic_files.os.replace = stalled
        atomic_files.write_atomic(Path(sys.argv[1]), "new\\n" * 1000, private=True)
        """,
        str(target),
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "before rename"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert target.read_text() == "old\n"
    assert debris(target) == [temp_path(target)]
    assert temp_path(target).read_text() == "new\n" * 1000
    write_atomic(target, "next\n", wait=5)
    assert debris(target) == []
    assert target.read_text() == "next\n"


def test_a_new_file_appears_only_complete(tmp_path: Path) -> None:
    """No empty placeholder: until the rename, the name does not exist at all."""
    target = tmp_path / "outputs-local.json"
    seen: list[bytes | None] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.append(target.read_bytes())
            except FileNotFoundError:
                seen.append(None)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for round_ in range(30):
            target.unlink(missing_ok=True)
            write_atomic(target, f"{round_}\n" + "x" * 100_000, private=True)
    finally:
        stop.set()
        watcher.join()
    assert all(content is None or content.endswith(b"x" * 100_000) for content in seen)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_private_files_are_0600_and_new_directories_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "backup" / "nested" / ".media-manifest.json"
    previous = os.umask(umask)
    try:
        write_atomic(target, "{}\n", private=True)
        write_atomic(target, "{}\n", private=True)  # replacing keeps it private too
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o600
    assert lock_path(target).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "backup").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "backup" / "nested").stat().st_mode & 0o777 == 0o700


def test_a_private_write_makes_an_existing_wider_file_private(tmp_path: Path) -> None:
    target = tmp_path / "outputs.json"
    target.write_text("{}")
    target.chmod(0o644)
    write_atomic(target, "{}", private=True)
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_other_new_files_follow_the_umask_and_existing_ones_keep_their_mode(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "Pulumi.new.yaml"
    previous = os.umask(umask)
    try:
        write_atomic(target, "config: {}\n")
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    write_atomic(target, "config: {}\n")
    assert target.stat().st_mode & 0o777 == 0o640


def test_the_local_outputs_file_never_exists_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`local up` used to create an empty 0600 placeholder first: killed then, `settings` and `verify`
    failed on a 0-byte file until the next `local up`. The name now appears with the whole content."""
    from storagectl import atomic_files
    from storagectl.local.command import _write_outputs

    target = tmp_path / ".local" / "outputs-local.json"
    real_replace = os.replace
    seen_before_rename: list[bool] = []

    def replace(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
        seen_before_rename.append(target.exists())
        real_replace(source, destination)

    monkeypatch.setattr(atomic_files.os, "replace", replace)
    _write_outputs(target, {"sites": {"demo": {}}})
    assert seen_before_rename == [False]
    assert target.read_text() == '{\n  "sites": {\n    "demo": {}\n  }\n}\n'
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.parent.stat().st_mode & 0o777 == 0o700
