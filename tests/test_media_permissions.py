"""Private media on this machine is its owner's alone, whatever the umask: pulled and backed-up private halves.

Run with umask 000 (every file a program creates would be world-writable): the private half's
files must be 0600 and its folders 0700, while the public half keeps what the umask gives.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from storagectl.offline import Evaluation
from tests.support.media import folder_files, media_folder
from tests.support.media_moto import deploy_for_media, media
from tests.support.moto_verify import Deployment


@pytest.fixture
def deployed(aws_stack: Evaluation, moto_endpoint: str) -> Deployment:
    return deploy_for_media(aws_stack, moto_endpoint)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_private_half_is_owner_only(folder: Path) -> None:
    half = folder / "private"
    assert mode(half) == 0o700
    folders = [path for path in half.rglob("*") if path.is_dir()]
    files = [path for path in half.rglob("*") if path.is_file()]
    assert folders and files
    assert {str(path): mode(path) for path in folders} == {str(path): 0o700 for path in folders}
    assert {str(path): mode(path) for path in files} == {str(path): 0o600 for path in files}


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("command", ["pull", "backup"])
def test_pulled_and_backed_up_private_files_are_owner_only_under_umask_000(
    deployed: Deployment, tmp_path: Path, command: str
) -> None:
    folder = media_folder(tmp_path / "media", large=True)
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    target = tmp_path / "copy"
    arguments = [str(target)] if command == "pull" else ["--to", str(target)]
    result = media(deployed, tmp_path, command, "acme-live", *arguments)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert folder_files(target) == folder_files(folder)
    assert_private_half_is_owner_only(target)
    public = [path for path in (target / "public").rglob("*") if path.is_file()]
    assert {mode(path) for path in public} == {0o666}, "the public half keeps what the umask gives"


@pytest.mark.usefixtures("permissive_umask")
def test_a_private_half_made_by_hand_is_made_owner_only_when_written(deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media")
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    target = tmp_path / "copy"
    (target / "private").mkdir(parents=True, mode=0o777)
    assert mode(target / "private") == 0o777
    assert media(deployed, tmp_path, "pull", "acme-live", str(target)).exit_code == 0
    assert_private_half_is_owner_only(target)
