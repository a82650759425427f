"""AWS Signature Version 4 as an authplug auth type.

Installing this distribution registers the ``aws.sigv4`` type through the
entry-point group ``authplug``; :mod:`authplug_aws_sigv4.signing` is the
signer underneath, usable on its own.
"""

from __future__ import annotations

from authplug_aws_sigv4.plugin import AWS_SIGV4, SigV4App, SigV4Flow, SigV4User
from authplug_aws_sigv4.signing import (
    Placement,
    SigningError,
    SigV4Signature,
    sign_request,
)

__all__ = [
    "AWS_SIGV4",
    "Placement",
    "SigV4App",
    "SigV4Flow",
    "SigV4Signature",
    "SigV4User",
    "SigningError",
    "sign_request",
]

__version__ = "0.1.0"
