"""The stack config for the pack under the engine: pulumi-policy 1.21 drops what ConfigureStack carries.

The engine hands a policy pack the stack's config in one of two ways. When it starts the pack
through a `pulumi-analyzer-policy-python` script it sets PULUMI_CONFIG in the pack's environment;
when a Python language host is installed (every Pulumi CLI release has one) it runs the pack
through that host instead, sets no PULUMI_CONFIG, and sends the config in the ConfigureStack call
(pulumi/pulumi sdk/go/common/resource/plugin/analyzer_plugin.go, 3.276). pulumi-policy 1.21's
ConfigureStack keeps only the stack's tags, so `pulumi.Config` saw no config at all: the pack
failed closed (protection required, AWS controls expected) on every stack that is not a protected
AWS stack. Found by running the pack under the engine (tests/engine/test_local_stack_engine.py).
"""

from __future__ import annotations

import json
import os
from typing import Any

from pulumi_policy import policy as pulumi_policy


def accept_stack_config() -> None:
    """Make the analyzer's ConfigureStack put the stack config where `pulumi.Config` reads it."""
    servicer = pulumi_policy._PolicyAnalyzerServicer
    keep_tags = servicer.ConfigureStack
    if getattr(keep_tags, "accepts_stack_config", False):
        return

    def configure_stack(self: Any, request: Any, context: Any) -> Any:
        # The same variables the engine sets on the script path; pulumi.Config reads them on every get.
        os.environ["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.config_secret_keys))
        return keep_tags(self, request, context)

    configure_stack.accepts_stack_config = True  # type: ignore[attr-defined]
    servicer.ConfigureStack = configure_stack  # type: ignore[method-assign,assignment]
