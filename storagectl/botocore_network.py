"""What botocore trusts and which proxy it goes through, for the clients beside it to do the same.

The CRT client (media/crt_client.py) and the anonymous GETs (verify/checks.py) reach the same
servers as botocore does; a CA or proxy that only botocore honours would make them disagree
with it on a custom endpoint behind a private CA or a company proxy.
"""

from __future__ import annotations

import functools
import os
import urllib.request
from urllib.parse import urlsplit


def ca_bundle() -> str:
    """The CA file botocore verifies with: AWS_CA_BUNDLE or the AWS config's ca_bundle, else its default bundle."""
    return _ca_bundle(*(os.environ.get(name) for name in _CA_VARIABLES))


_CA_VARIABLES = ("AWS_CA_BUNDLE", "AWS_CONFIG_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")
"""What botocore's answer depends on: asked again only when one of them changes."""


@functools.lru_cache(maxsize=8)
def _ca_bundle(*_environment: str | None) -> str:
    # A botocore session reads the config file: milliseconds, too much for every anonymous GET.
    import botocore.session
    from botocore.httpsession import get_cert_path

    configured = botocore.session.get_session().get_config_variable("ca_bundle")
    return str(configured) if configured else str(get_cert_path(True))


def proxy_for(url: str) -> str | None:
    """The proxy botocore takes for this URL from HTTPS_PROXY/HTTP_PROXY, unless NO_PROXY names its host."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(parts.scheme)
