"""site-storage: read the stack config, build the provider and one SiteStorage per site, export."""

import pulumi

from components.config import ConfigError
from components.engine_config import settings_from_engine
from components.program import run

try:
    settings = settings_from_engine()
except ConfigError as error:
    for problem in error.problems:
        pulumi.log.error(problem)
    raise pulumi.RunError(f"{len(error.problems)} problem(s) in the stack configuration") from None

run(settings)
