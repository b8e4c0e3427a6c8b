"""Build Go programs pinned by a wrapper module of this project into an ignored folder, once.

The pattern every tools/<name>/ folder follows: a go.mod that requires the program's module at one
version (repeating that module's non-relative `replace` directives, since `go install pkg@version`
refuses modules that have any), a tools.go with a blank import of the main package, and a go.sum
that pins every module under it. Builds run with `-mod=readonly` (go.sum must already pin
everything; a build never rewrites go.mod), `-trimpath`, CGO off.

Idempotent and cached: a stamp of the inputs (the folder's go.mod, go.sum and Go sources, its
build script and this file) is kept beside the binaries; when it matches, nothing is built. The
finished folder is swapped in at once, so a killed build never leaves a half-built one, and one
build runs at a time (a second waits on a lock, then finds it done).

Standard library only: it runs before the virtualenv exists (CI, `make`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class BuildError(SystemExit):
    """A build that cannot go on: one line (or the compiler's output) for stderr, exit 1."""


@dataclass(frozen=True)
class GoBinary:
    """One program to build: its file name in the bin folder and its main package."""

    name: str
    package: str
    """An import path (resolved through the wrapper module's go.mod) or ./relative to the module."""
    ldflags: str = "-s -w"


@dataclass(frozen=True)
class GoTool:
    """A tools/<name>/ wrapper module and what it builds."""

    module_dir: Path
    binaries: tuple[GoBinary, ...]
    what: str
    """How messages name it: 'the Pulumi CLI'."""
    script: Path
    """The build script: part of the stamp, and the name errors start with."""
    extra_files: tuple[str, ...] = ()
    """Names of files that `finish` adds to the bin folder (checked like the binaries)."""

    @property
    def names(self) -> tuple[str, ...]:
        return (*(binary.name for binary in self.binaries), *self.extra_files)


def inputs_digest(tool: GoTool) -> str:
    digest = hashlib.sha256()
    module = tool.module_dir
    files = [module / "go.mod", module / "go.sum", *sorted(module.rglob("*.go"))]
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(module).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for path in (tool.script.resolve(), Path(__file__).resolve()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def up_to_date(bin_dir: Path, digest: str, names: Sequence[str]) -> bool:
    stamp = bin_dir / ".stamp"
    return (
        stamp.is_file()
        and stamp.read_text().strip() == digest
        and all(os.access(bin_dir / name, os.X_OK) for name in names)
    )


def go_env() -> dict[str, str]:
    # -mod=readonly: go.sum must already pin everything; a build never rewrites go.mod.
    return {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "CGO_ENABLED": "0"}


def go(tool: GoTool, *args: str, env: dict[str, str]) -> str:
    completed = subprocess.run(["go", *args], cwd=tool.module_dir, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise BuildError(f"{tool.script.name}: go {' '.join(args)} failed:\n{completed.stderr.strip()}")
    return completed.stdout


def build(
    tool: GoTool, bin_dir: Path, digest: str, *, announce: str, finish: Callable[[Path, dict[str, str]], None] | None
) -> None:
    if shutil.which("go") is None:
        raise BuildError(f"{tool.script.name}: Go is not installed; it builds {tool.what} (Go 1.26 or newer)")
    if not (tool.module_dir / "go.sum").is_file():
        # Without it the build is not pinned (a module of the standard library alone has an empty one).
        raise BuildError(
            f"{tool.script.name}: {tool.module_dir / 'go.sum'} is missing: the build of {tool.what} would not be "
            "pinned; run `go mod tidy` in that folder and commit go.sum"
        )
    env = go_env()
    bin_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{bin_dir.name}.", dir=bin_dir.parent))
    staging.chmod(0o755)
    try:
        started = time.monotonic()
        print(announce, file=sys.stderr)
        for binary in tool.binaries:
            target = staging / binary.name
            go(tool, "build", "-trimpath", "-ldflags", binary.ldflags, "-o", str(target), binary.package, env=env)
        if finish is not None:
            finish(staging, env)
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


def ensure_built(
    tool: GoTool,
    bin_dir: Path,
    *,
    announce: str,
    finish: Callable[[Path, dict[str, str]], None] | None = None,
) -> Path:
    """Build `tool` into `bin_dir` unless its stamp matches; returns `bin_dir`."""
    bin_dir = bin_dir.resolve()
    bin_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(bin_dir.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a second waits, then finds it done
        # Leftovers of a killed build (staging folders) go first.
        for leftover in bin_dir.parent.glob(f"{bin_dir.name}.*"):
            shutil.rmtree(leftover, ignore_errors=True)
        digest = inputs_digest(tool)
        if up_to_date(bin_dir, digest, tool.names):
            print(f"{bin_dir} is up to date", file=sys.stderr)
        else:
            build(tool, bin_dir, digest, announce=announce, finish=finish)
    return bin_dir


# --- the plain tools: a wrapper module each, built as they are -------------------------------------------

TOOLS_DIR = ROOT / ".tools"
"""Where `python3 tools/gobuild.py NAME` builds: .tools/NAME/bin (git-ignored)."""


def required_version(module_dir: Path, module: str) -> str:
    """The version the wrapper's go.mod requires of `module`: the one place it is written."""
    for line in (module_dir / "go.mod").read_text().splitlines():
        words = line.split()
        if words[:1] == ["require"]:
            words = words[1:]
        if len(words) >= 2 and words[0] == module:
            return words[1]
    raise BuildError(f"{module_dir / 'go.mod'} does not require {module}")


def seaweedfs_ldflags() -> str:
    # `weed version` then names the commit of the pinned pseudo-version (v0.0.0-<time>-<commit>).
    commit = required_version(HERE / "seaweedfs", "github.com/seaweedfs/seaweedfs").rsplit("-", 1)[-1]
    return f"-s -w -X github.com/seaweedfs/seaweedfs/weed/util/version.COMMIT={commit}"


def plain_tools() -> dict[str, GoTool]:
    return {
        # The S3 server of the tests and benchmarks (ci/seaweedfs.py starts it).
        "seaweedfs": GoTool(
            module_dir=HERE / "seaweedfs",
            binaries=(GoBinary("weed", "github.com/seaweedfs/seaweedfs/weed", seaweedfs_ldflags()),),
            what="the SeaweedFS S3 server",
            script=Path(__file__),
        ),
        # The delaying TCP proxy: the benchmarks' 20 ms network (benchmarks/delay_proxy.py).
        "delayproxy": GoTool(
            module_dir=HERE / "delayproxy",
            binaries=(GoBinary("delayproxy", "."),),
            what="the delaying proxy",
            script=Path(__file__),
        ),
    }


def default_bin(name: str) -> Path:
    return TOOLS_DIR / name / "bin"


def main(argv: list[str] | None = None) -> int:
    import argparse

    tools = plain_tools()
    parser = argparse.ArgumentParser(description="Build a Go tool of tools/ into .tools/NAME/bin (once).")
    parser.add_argument("name", choices=sorted(tools))
    parser.add_argument("--print-bin", action="store_true", help="print the folder holding the built binaries")
    parser.add_argument("--bin", type=Path, help="where to build (default .tools/NAME/bin)")
    args = parser.parse_args(argv)
    tool = tools[args.name]
    announce = f"building {tool.what} from Go modules (tools/{args.name}; minutes the first time)"
    bin_dir = ensure_built(tool, args.bin or default_bin(args.name), announce=announce)
    if args.print_bin:
        print(bin_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
