"""The site-storage policy pack: `pulumi preview --policy-pack policy`. It only builds the pack.

The CLI runs this file with policy/ itself first on sys.path; the project root goes in front so
the rules import as `policy.*`, exactly as storagectl and the tests import them.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.pack import PACK_NAME, pack_policies
from policy.stack_config import accept_stack_config

accept_stack_config()

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=pack_policies())
