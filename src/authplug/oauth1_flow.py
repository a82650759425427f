"""Obtain OAuth1 token credentials: the three-legged dance (RFC 5849 2).

:class:`OAuth1Authorization` holds the state of one authorization and does
no I/O. The caller sends the requests it builds and hands back the
responses, and sends the user to the authorization page by whatever means
it has (a browser, a printed link)::

    dance = OAuth1Authorization(credentials)
    dance.accept_request_token(send(dance.request_token_request()))
    open_browser(dance.authorization_url())
    verifier = dance.verifier_from_callback(url_the_user_came_back_to)
    credentials = dance.accept_access_token(
        send(dance.access_token_request(verifier))
    )

The result carries the user's token and token secret, ready for
:class:`~authplug.builtin.oauth1.OAuth1Flow`. A web application that
handles the callback in another process keeps :attr:`temporary` between
the two halves and passes it back in with ``temporary=``.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from authplug.builtin.oauth1 import OAuth1App, OAuth1User, consumer_signing
from authplug.errors import ConfigError, FieldError, FlowError
from authplug.flow import Clock, NonceSource
from authplug.http import Request, Response
from authplug.oauth1_signing import (
    TokenCredentials,
    authorization_url,
    make_nonce,
    parse_temporary_credentials,
    parse_token_credentials,
    temporary_credentials_request,
    token_credentials_request,
)
from authplug.records import Credentials

__all__ = ["OAuth1Authorization"]

logger = logging.getLogger(__name__)


class OAuth1Authorization:
    """Walk one user through the three-legged OAuth1 authorization.

    The steps run in order: :meth:`request_token_request` and
    :meth:`accept_request_token` (temporary credentials),
    :meth:`authorization_url` (the user approves), then
    :meth:`access_token_request` and :meth:`accept_access_token` (token
    credentials). Each request is signed as the app says (method,
    placement, realm), with the callback ``app.callback_uri`` or ``oob``.

    Args:
        credentials: oauth1 credentials (or those of a type derived from
            it); the user side is ignored and replaced at the end.
        clock: The time source for the timestamps.
        nonce: The nonce source.
        temporary: Temporary credentials from an earlier
            :meth:`accept_request_token`, to resume an authorization in
            another process.
        require_callback_confirmed: Insist on the OAuth 1.0a answer
            ``oauth_callback_confirmed=true``; turn off only for a server
            that speaks the older OAuth 1.0.

    Raises:
        ConfigError: The credentials are not OAuth1 credentials.
    """

    def __init__(
        self,
        credentials: Credentials[OAuth1User, OAuth1App],
        clock: Clock = time.time,
        nonce: NonceSource = make_nonce,
        *,
        temporary: TokenCredentials | None = None,
        require_callback_confirmed: bool = True,
    ) -> None:
        if not isinstance(credentials.app, OAuth1App):
            raise ConfigError(
                [
                    FieldError(
                        "type",
                        f"is {credentials.type.name!r}, but the OAuth1 "
                        "authorization needs oauth1 credentials",
                    )
                ]
            )
        self.credentials = credentials
        self.clock = clock
        self.nonce = nonce
        self.require_callback_confirmed = require_callback_confirmed
        self.temporary = temporary
        self.access: TokenCredentials | None = None

    @property
    def callback(self) -> str:
        """Return the callback sent with the request token request."""
        return self.credentials.app.callback_uri or "oob"

    def request_token_request(self) -> Request:
        """Return the signed request for temporary credentials.

        Raises:
            ConfigError: ``app.request_token_url`` is not set.
        """
        url = self._endpoint("request_token_url", "request token")

        return temporary_credentials_request(
            url,
            timestamp=int(self.clock()),
            nonce=self.nonce(),
            callback=self.callback,
            **consumer_signing(self.credentials.app),
        )

    def accept_request_token(self, response: Response) -> TokenCredentials:
        """Read the temporary credentials from the server's ``response``.

        Raises:
            TokenError: The server refused, or sent no usable credentials.
        """
        temporary = parse_temporary_credentials(
            response, require_callback_confirmed=self.require_callback_confirmed
        )

        self.temporary = temporary
        self.access = None
        logger.debug("received temporary credentials")
        return temporary

    def authorization_url(self, params: Mapping[str, str] | None = None) -> str:
        """Return the page where the user approves the temporary token.

        Args:
            params: Extra query parameters the service takes there.

        Raises:
            ConfigError: ``app.authorize_url`` is not set.
            FlowError: No temporary credentials have been accepted yet.
        """
        url = self._endpoint("authorize_url", "authorization")
        temporary = self._temporary("build the authorization URL")

        return authorization_url(url, temporary.token.reveal(), params)

    def verifier_from_callback(self, url: str) -> str:
        """Return the ``oauth_verifier`` of the URL the user was sent back to.

        The URL's ``oauth_token`` must be the temporary token of this
        authorization: a callback meant for another one is refused.

        Raises:
            FlowError: The URL lacks a verifier, or names another token.
        """
        temporary = self._temporary("read the callback")
        fields: dict[str, str] = {}
        for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
            fields.setdefault(name, value)

        verifier = fields.get("oauth_verifier")
        if not verifier:
            raise FlowError(
                "the callback URL has no oauth_verifier; pass the whole "
                "address the service sent the user back to"
            )
        token = fields.get("oauth_token")
        if token is not None and not hmac.compare_digest(
            token.encode(), temporary.token.reveal().encode()
        ):
            raise FlowError(
                "the callback URL is for another authorization (its "
                "oauth_token is not this one's request token); start again"
            )
        return verifier

    def access_token_request(self, verifier: str) -> Request:
        """Return the signed request that trades ``verifier`` for a token.

        Args:
            verifier: The ``oauth_verifier`` the user brought back.

        Raises:
            ConfigError: ``app.access_token_url`` is not set.
            FlowError: No temporary credentials have been accepted yet, or
                the verifier is empty.
        """
        url = self._endpoint("access_token_url", "access token")
        temporary = self._temporary("request the access token")
        verifier = verifier.strip()
        if not verifier:
            raise FlowError("the verifier is empty; enter the one the service showed")

        return token_credentials_request(
            url,
            token=temporary.token.reveal(),
            token_secret=temporary.token_secret.reveal(),
            verifier=verifier,
            timestamp=int(self.clock()),
            nonce=self.nonce(),
            **consumer_signing(self.credentials.app),
        )

    def accept_access_token(
        self, response: Response
    ) -> Credentials[OAuth1User, OAuth1App]:
        """Read the token credentials and return credentials that carry them.

        The fields the server sent beside the token (``user_id``, say) stay
        in :attr:`access` as ``access.extra``.

        Raises:
            TokenError: The server refused, or sent no usable credentials.
        """
        access = parse_token_credentials(response)

        self.access = access
        # The server has spent the temporary credentials on this exchange.
        self.temporary = None
        logger.debug("received token credentials")
        return self.credentials.with_user(
            token=access.token, token_secret=access.token_secret
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.credentials!r}, stage={self.stage!r})"

    @property
    def stage(self) -> str:
        """Return where the authorization stands, for logs and reprs.

        One of ``"request token"``, ``"authorize"`` and ``"done"``.
        """
        if self.access is not None:
            return "done"
        if self.temporary is not None:
            return "authorize"
        return "request token"

    def _endpoint(self, name: str, what: str) -> str:
        url: str | None = getattr(self.credentials.app, name)
        if url is None:
            raise ConfigError(
                [
                    FieldError(
                        f"app.{name}",
                        f"is required to authorize: set it to the service's "
                        f"{what} endpoint",
                    )
                ]
            )
        return url

    def _temporary(self, step: str) -> TokenCredentials:
        if self.temporary is None:
            raise FlowError(
                f"cannot {step} before the request token: send "
                "request_token_request() and pass the answer to "
                "accept_request_token() first"
            )
        return self.temporary
