#!/usr/bin/env python3
"""Build the Pulumi CLI and a Python language host from Go modules into .pulumi/bin (`make pulumi`).

These machines reach package registries, the Go module proxy among them, but no release site, so
the CLI cannot be downloaded. It is built from github.com/pulumi/pulumi/pkg/v3 at the version this
folder's go.mod pins (go.sum pins every module under it), with that version stamped in so `pulumi
version` prints it. Pulumi's Python language host module is refused by the proxy; `cmd/pulumi-
language-python` here stands in for it (see its doc comment). The helper scripts a CLI release
carries beside its binaries come from the pinned SDK module: the program runner
`pulumi-language-python-exec` and the dynamic-provider host `pulumi-resource-pulumi-python`.

Idempotent and cached (tools/gobuild.py, shared with the other Go tools): a stamp of the inputs
(go.mod, go.sum, the Go sources, this file and the builder) is kept in .pulumi/bin; when it
matches, nothing is built. A `pulumi` already on PATH (the real CLI, as
operators install it) is used instead, unless --force. Standard library only: it runs before the
virtualenv exists. Usage: python3 tools/pulumi/build.py [--force] [--print-bin]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from gobuild import GoBinary, GoTool, ensure_built, go  # noqa: E402  (tools/gobuild.py: the shared builder)

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


def pinned_version() -> str:
    """The CLI version go.mod requires: the one place it is written."""
    match = re.search(
        r"^\s*(?:require\s+)?github\.com/pulumi/pulumi/pkg/v3 (v\S+)", (HERE / "go.mod").read_text(), re.M
    )
    if match is None:
        raise SystemExit("tools/pulumi/go.mod does not require github.com/pulumi/pulumi/pkg/v3")
    return match.group(1)


def pulumi_tool() -> GoTool:
    # The version stamped in, so `pulumi version` prints it.
    ldflags = f"-s -w -X {VERSION_VARIABLE}={pinned_version()}"
    return GoTool(
        module_dir=HERE,
        binaries=(
            GoBinary("pulumi", CLI_PACKAGE, ldflags),
            GoBinary("pulumi-language-python", "./cmd/pulumi-language-python", ldflags),
        ),
        what="the Pulumi CLI",
        script=Path(__file__),
        extra_files=tuple(SDK_SCRIPTS),
    )


def copy_sdk_scripts(staging: Path, env: dict[str, str]) -> None:
    sdk_dir = Path(go(pulumi_tool(), "list", "-m", "-f", "{{.Dir}}", SDK_MODULE, env=env).strip())
    for name, relative in SDK_SCRIPTS.items():
        shutil.copyfile(sdk_dir / relative, staging / name)
        (staging / name).chmod(0o755)


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
        announce = f"building the Pulumi CLI {pinned_version()} from Go modules (a few minutes the first time)"
        ensure_built(pulumi_tool(), bin_dir, announce=announce, finish=copy_sdk_scripts)
    if args.print_bin:
        print(bin_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
