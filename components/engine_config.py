"""Reads the stack's `site-storage:*` config as the Pulumi engine hands it to the program."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from components.config import EXOSCALE_KEY, EXOSCALE_SECRET, StackSettings, namespace_values, parse_settings


def settings_from_engine() -> StackSettings:
    stack = pulumi.get_stack()
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    provider_config = {key: values[key] for key in (EXOSCALE_KEY, EXOSCALE_SECRET) if key in values}
    return parse_settings(
        namespace_values(values),
        stack=stack,
        source=f"stacks/Pulumi.{stack}.yaml",
        provider_config=provider_config,
    )
