"""One measured run of the real program: `python -m benchmarks.program_child DOCUMENT.json [--record OUT.json]`.

Runs in a fresh process so start-up and imports count. It does what `storagectl preview`
does short of reading YAML and printing: validate the stack values, then evaluate the
real `__main__.py` under the mock runtime. `--record` writes the registered resources
(type, name, inputs, protect) for the floor.
"""

from __future__ import annotations

import json
import sys

from components.config import parse_settings
from storagectl.offline import evaluate_values


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        document = json.load(handle)
    values = document["values"]
    secret_keys = frozenset(document.get("secret_keys", ()))
    other_config = document.get("other_config", {})
    other_secret_keys = frozenset(document.get("other_secret_keys", ()))
    settings = parse_settings(
        values,
        stack=document["stack"],
        source=argv[0],
        secret_keys=secret_keys | other_secret_keys,
        provider_config=other_config,
    )
    evaluation = evaluate_values(
        settings, values, secret_keys, other_config=other_config, other_secret_keys=other_secret_keys
    )
    if "--record" in argv:
        out = argv[argv.index("--record") + 1]
        recorded = [
            {"type": r.type, "name": r.name, "inputs": r.inputs, "protect": r.protect} for r in evaluation.resources
        ]
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(recorded, handle)
    print(json.dumps({"resources": len(evaluation.resources), "sites": len(evaluation.outputs.get("sites", {}))}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
