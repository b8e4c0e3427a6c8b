"""The process `storagectl local up` starts: records itself, then becomes the moto server.

`python -m storagectl.local.serve --host H --port P --endpoint URL --record FILE` first takes
FILE.claim (an flock it holds for its whole life; the kernel drops it when the process dies, also
on SIGKILL): a second server for the port exits at once, so the record always names the one
that runs. Then it writes its own pid into FILE, before it opens the port, so any server that
answers on the port has been recorded, whenever `local up` itself is stopped: `local down` can
always find and stop it. Then it closes the moto gaps the local stack relies on (moto_gaps) and
runs moto's server in this process, as `python -m moto.server` would.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time
from pathlib import Path

from storagectl.atomic_files import write_atomic

MARKER = "storagectl.local.serve"
"""In the command line of every such process: how `local down` tells it from a process that reused its pid."""
EXIT_ALREADY_CLAIMED = 3


def claim_path(record: Path) -> Path:
    return record.with_name(record.name + ".claim")


def claimed(record: Path) -> bool:
    """Whether a live server process holds the claim of this record's port."""
    try:
        descriptor = os.open(claim_path(record), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {MARKER}")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--record", type=Path, required=True)
    arguments = parser.parse_args(argv)
    claim = os.open(claim_path(arguments.record), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until this process ends
    except BlockingIOError:
        sys.stderr.write(f"another storagectl local server holds port {arguments.port}; not starting a second one\n")
        raise SystemExit(EXIT_ALREADY_CLAIMED) from None
    record = {"pid": os.getpid(), "endpoint": arguments.endpoint, "port": arguments.port, "at": time.time()}
    write_atomic(arguments.record, json.dumps(record), private=True)  # appears only complete, owner-only
    from moto.server import main as moto_main

    from storagectl.local import moto_gaps

    moto_gaps.close()
    moto_main(["-H", arguments.host, "-p", str(arguments.port)])


if __name__ == "__main__":
    main()
