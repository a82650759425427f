"""OAuth2: the grants, client authentication, PKCE, and the flows.

The flows are I/O-free (see :mod:`authplug.lifecycle`); the adapters in
:mod:`authplug.adapters` drive them. What is here:

- :mod:`~authplug.oauth2.flows`: :class:`OAuth2Flow` (authorization code
  with PKCE), :class:`ClientCredentialsFlow`, :class:`PasswordFlow`,
  :class:`AuthorizationRequest` for a code grant in progress, and
  :class:`TokenFlow`, their base, for plugins that add a grant or a client
  authentication method.
- :mod:`~authplug.oauth2.grants`: token requests and the authorization URL.
- :mod:`~authplug.oauth2.client_auth`: ``client_secret_basic``,
  ``client_secret_post`` and ``none``.
- :mod:`~authplug.oauth2.tokens`: reading token responses and errors.
- :mod:`~authplug.oauth2.pkce`: S256 verifiers and challenges.
"""

from authplug.oauth2.flows import (
    AuthorizationRequest,
    ClientCredentialsFlow,
    OAuth2Flow,
    PasswordFlow,
    TokenFlow,
)
from authplug.oauth2.pkce import make_verifier, s256_challenge

__all__ = [
    "AuthorizationRequest",
    "ClientCredentialsFlow",
    "OAuth2Flow",
    "PasswordFlow",
    "TokenFlow",
    "make_verifier",
    "s256_challenge",
]
