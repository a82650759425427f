"""A real OAuth 2 authorization server (Authlib on Flask) for authplug's tests.

It runs on 127.0.0.1 in a daemon thread (:class:`OAuthServer`) or in its own
process (:class:`OAuthServerProcess`, ``python -m tests.oauth_server``), keeps
everything in memory, records every token request, and can be told to
misbehave. The pytest fixtures live in :mod:`tests.oauth_server.fixtures`;
the README next to this file shows the whole API.
"""

from .config import (
    BASIC_CLIENT,
    DEFAULT_CLIENTS,
    DEFAULT_USER,
    JWT_BEARER_GRANT,
    POST_CLIENT,
    PUBLIC_CLIENT,
    ClientConfig,
    ConfigError,
    Fault,
    ServerConfig,
    Settings,
    UserConfig,
)
from .process import OAuthServerProcess
from .records import ApiRequestRecord, TokenRequestRecord
from .server import OAuthServer

__all__ = [
    "BASIC_CLIENT",
    "DEFAULT_CLIENTS",
    "DEFAULT_USER",
    "JWT_BEARER_GRANT",
    "POST_CLIENT",
    "PUBLIC_CLIENT",
    "ApiRequestRecord",
    "ClientConfig",
    "ConfigError",
    "Fault",
    "OAuthServer",
    "OAuthServerProcess",
    "ServerConfig",
    "Settings",
    "TokenRequestRecord",
    "UserConfig",
]
