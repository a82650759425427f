"""The authplug contract kit, run against both JWT types."""

from __future__ import annotations

from authplug.testing import AuthTypeContract


class TestJWTBearerContract(AuthTypeContract):
    """Every rule of the plugin contract, for the installed JWT bearer type."""

    auth_type = "oauth2.jwt_bearer"


class TestPrivateKeyJWTContract(AuthTypeContract):
    """Every rule of the plugin contract, for the installed private_key_jwt type."""

    auth_type = "oauth2.private_key_jwt"
