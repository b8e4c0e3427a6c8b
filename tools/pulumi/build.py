#!/usr/bin/env python3
"""Build the Pulumi CLI and a Python language host from Go modules into .pulumi/bin (`make pulumi`).

These machines reach package registries, the Go module proxy among them, but no release site, so
the CLI cannot be downloaded. It is built from github.com/pulumi/pulumi/pkg/v3 at the version this
folder's go.mod pins (go.sum pins every module under it), with that version stamped in so `pulumi
version` prints it. Pulumi's Python language host module is refused by the proxy; `cmd/pulumi-
language-python` here stands in for it (see its doc comment). The helper scripts a CLI release
carries beside its binaries come from the pinned SDK module: the program runner
`pulumi-language-python-exec` and the dynamic-provider host `pulumi-resource-pulumi-python`.

Idempotent and cached: a stamp of the inputs (go.mod, go.sum, the Go sources, this file) is kept
in .pulumi/bin; when it matches, nothing is built. A `pulumi` already on PATH (the real CLI, as
operators install it) is used instead, unless --force. Standard library only: it runs before the
virtualenv exists. Usage: python3 tools/pulumi/build.py [--force] [--print-bin]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = ROOT / ".pulumi" / "bin"
CLI_PACKAGE = "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
VERSION_VARIABLE = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"
# Scripts a CLI release carries, copied from the SDK module at the pinned version.
SDK_SCRIPTS = {
    "pulumi-language-python-exec": "python/cmd/pulumi-language-python-exec",
    "pulumi-resource-pulumi-python": "python/dist/pulumi-resource-pulumi-python",
}
BINARIES = ("pulumi", "pulumi-language-python", *SDK_SCRIPTS)


def pinned_version() -> str:
    """The CLI version go.mod requires: the one place it is written."""
    match = re.search(
        r"^\s*(?:require\s+)?github\.com/pulumi/pulumi/pkg/v3 (v\S+)", (HERE / "go.mod").read_text(), re.M
    )
    if match is None:
        raise SystemExit("tools/pulumi/go.mod does not require github.com/pulumi/pulumi/pkg/v3")
    return match.group(1)


def inputs_digest() -> str:
    digest = hashlib.sha256()
    files = [HERE / "go.mod", HERE / "go.sum", Path(__file__).resolve(), *sorted(HERE.rglob("*.go"))]
    for path in files:
        digest.update(path.relative_to(HERE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def up_to_date(bin_dir: Path, digest: str) -> bool:
    stamp = bin_dir / ".stamp"
    return (
        stamp.is_file()
        and stamp.read_text().strip() == digest
        and all(os.access(bin_dir / name, os.X_OK) for name in BINARIES)
    )


def go(*args: str, env: dict[str, str]) -> str:
    completed = subprocess.run(["go", *args], cwd=HERE, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"build.py: go {' '.join(args)} failed:\n{completed.stderr.strip()}")
    return completed.stdout


def build(bin_dir: Path, digest: str) -> None:
    if shutil.which("go") is None:
        raise SystemExit("build.py: Go is not installed; it builds the Pulumi CLI (Go 1.26 or newer)")
    version = pinned_version()
    # -mod=readonly: go.sum must already pin everything; a build never rewrites go.mod.
    env = {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "CGO_ENABLED": "0"}
    ldflags = f"-s -w -X {VERSION_VARIABLE}={version}"
    bin_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{bin_dir.name}.", dir=bin_dir.parent))
    staging.chmod(0o755)
    try:
        started = time.monotonic()
        print(f"building the Pulumi CLI {version} from Go modules (a few minutes the first time)", file=sys.stderr)
        go("build", "-trimpath", "-ldflags", ldflags, "-o", str(staging / "pulumi"), CLI_PACKAGE, env=env)
        go("build", "-trimpath", "-ldflags", ldflags, "-o", str(staging), "./cmd/pulumi-language-python", env=env)
        sdk_dir = Path(go("list", "-m", "-f", "{{.Dir}}", SDK_MODULE, env=env).strip())
        for name, relative in SDK_SCRIPTS.items():
            shutil.copyfile(sdk_dir / relative, staging / name)
            (staging / name).chmod(0o755)
        (staging / ".stamp").write_text(digest + "\n")
        # Swap the whole folder in at once, so a killed build never leaves a half-built one.
        old = bin_dir.with_name(f"{bin_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if bin_dir.exists():
            bin_dir.rename(old)
        staging.rename(bin_dir)
        shutil.rmtree(old, ignore_errors=True)
        print(f"built {bin_dir} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def pulumi_on_path(bin_dir: Path) -> str | None:
    """A `pulumi` on PATH that is not this folder's build."""
    found = shutil.which("pulumi")
    if found is None or Path(found).resolve().parent == bin_dir.resolve():
        return None
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="build even when a pulumi is on PATH")
    parser.add_argument("--print-bin", action="store_true", help="print the folder holding the pulumi to use")
    parser.add_argument("--bin", type=Path, default=BIN, help=f"where to build (default {BIN.relative_to(ROOT)})")
    args = parser.parse_args()
    bin_dir: Path = args.bin.resolve()
    existing = None if args.force else pulumi_on_path(bin_dir)
    if existing is not None:
        print(f"using the Pulumi CLI on PATH: {existing} (--force builds one anyway)", file=sys.stderr)
        bin_dir = Path(existing).parent
    else:
        bin_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(bin_dir.parent / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a second waits, then finds it done
            # Leftovers of a killed build (staging folders) go first.
            for leftover in bin_dir.parent.glob(f"{bin_dir.name}.*"):
                shutil.rmtree(leftover, ignore_errors=True)
            digest = inputs_digest()
            if up_to_date(bin_dir, digest):
                print(f"{bin_dir} is up to date", file=sys.stderr)
            else:
                build(bin_dir, digest)
    if args.print_bin:
        print(bin_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
