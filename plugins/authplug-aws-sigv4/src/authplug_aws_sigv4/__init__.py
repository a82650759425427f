"""AWS Signature Version 4 as an authplug auth type.

:mod:`authplug_aws_sigv4.signing` is the signer, pure and free of I/O.
"""

from __future__ import annotations

from authplug_aws_sigv4.signing import (
    Placement,
    SigningError,
    SigV4Signature,
    sign_request,
)

__all__ = ["Placement", "SigV4Signature", "SigningError", "sign_request"]

__version__ = "0.1.0"
