"""Reads the stack's config as the Pulumi engine hands it to the program."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from components.config import StackSettings, parse_settings, split_config


def settings_from_engine() -> StackSettings:
    """The stack's settings; a key of a namespace nobody reads (`site_storage:sites`) is refused,
    as storagectl refuses it in the stack file, rather than ignored."""
    stack = pulumi.get_stack()
    source = f"stacks/Pulumi.{stack}.yaml"
    entries = split_config({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}, source=source)
    return parse_settings(entries.values, stack=stack, source=source, provider_config=entries.other)
