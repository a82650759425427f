"""The hooks a plugin implements.

A plugin is a module (or any object) with functions marked by
:data:`hookimpl`, registered through the entry-point group ``authplug``.
Each hook returns frozen records; the registry checks every record before
anything uses it.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from authplug.records import AuthType

__all__ = ["hookimpl", "hookspec"]

PROJECT = "authplug"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def authplug_auth_types() -> Iterable[AuthType]:
    """Return the auth types this plugin provides.

    Return an iterable of :class:`~authplug.AuthType` records. Each name and
    alias must be unique across every installed plugin.

    Example plugin module, registered in its ``pyproject.toml`` with
    ``[project.entry-points.authplug] acme = "acme_auth"``::

        import attrs
        import authplug
        from authplug import AuthType, Secret, hookimpl
        from authplug.builtin.token import TokenFlow, TokenApp

        @attrs.frozen(kw_only=True)
        class AcmeUser:
            access_token: Secret
            workspace: str = authplug.describe("The Acme workspace slug")

        ACME = AuthType(
            name="acme.key",
            summary="Acme workspace API key",
            user_model=AcmeUser,
            app_model=TokenApp,
            flow=TokenFlow,
        )

        @hookimpl
        def authplug_auth_types():
            return [ACME]
    """
    raise NotImplementedError
