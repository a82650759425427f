"""The authplug contract kit, run against ``aws.sigv4``."""

from __future__ import annotations

from authplug.testing import AuthTypeContract


class TestAwsSigV4Contract(AuthTypeContract):
    """Every rule of the plugin contract, for the installed type."""

    auth_type = "aws.sigv4"
