"""The OAuth2 flows: the code grant, client credentials, and password.

Each is a :class:`~authplug.lifecycle.RenewableFlow`: it reads the tokens
from the credentials, renews them with I/O-free exchanges, and puts new
ones back with :meth:`~authplug.Credentials.with_user`. How a flow renews:

========================  ==========================  =====================
flow                      with a refresh token        without one
========================  ==========================  =====================
:class:`OAuth2Flow`       refresh                     the user must
                                                      authorize again
:class:`ClientCredentialsFlow`  refresh; on             client credentials
                          ``invalid_grant`` the grant  grant
:class:`PasswordFlow`     refresh; on                 password grant
                          ``invalid_grant`` the grant
========================  ==========================  =====================

The code grant itself (sending a user to the authorization page and
exchanging the code) is :meth:`OAuth2Flow.start_authorization` and
:meth:`OAuth2Flow.exchange_code`, also I/O-free.

:class:`TokenFlow`, the base of all three, is public so that a plugin can
add a grant or a client authentication method (a signed JWT, say) and
reuse the retries, token parsing and renewal: it implements
:meth:`TokenFlow.grant` and, where the client authenticates differently,
:meth:`TokenFlow.authenticate_token_request`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from attrs import frozen

from authplug.errors import FlowError, ReauthorizationRequired, TokenError
from authplug.http import Request, Response
from authplug.lifecycle import Exchange, Issued, Pause, RenewableFlow, SendError
from authplug.oauth2.client_auth import apply_client_auth
from authplug.oauth2.grants import (
    authorization_url,
    check_token_params,
    parse_callback,
    token_request,
)
from authplug.oauth2.pkce import make_verifier, s256_challenge
from authplug.oauth2.tokens import (
    ERROR_HINTS,
    TRANSIENT_STATUSES,
    parse_token_response,
    retry_after,
    token_error,
)
from authplug.records import Credentials
from authplug.secret import Secret
from authplug.stores.base import TokenRecord

if TYPE_CHECKING:
    # Only for types: authplug.builtin.oauth2 imports this module for its
    # records, so importing it here at run time would make a cycle.
    from authplug.builtin.oauth2 import (
        OAuth2App,
        OAuth2Client,
        OAuth2Token,
        PasswordUser,
    )

__all__ = [
    "AuthorizationRequest",
    "ClientCredentialsFlow",
    "OAuth2Flow",
    "PasswordFlow",
    "TokenFlow",
]

logger = logging.getLogger(__name__)

UserT = TypeVar("UserT", bound="OAuth2Token")
ClientT = TypeVar("ClientT", bound="OAuth2Client")


class TokenFlow(RenewableFlow[UserT, ClientT]):
    """What every OAuth2 flow shares: tokens, refresh, retries, errors.

    A subclass implements :meth:`grant` with :meth:`token_exchange`, and
    may override :meth:`authenticate_token_request` (another client
    authentication method) and :attr:`error_hints`. Its app model must be
    an :class:`~authplug.builtin.oauth2.OAuth2Client` or a subclass.
    """

    regrants: ClassVar[bool] = False
    """Whether the flow can get new tokens without a refresh token."""

    grant_type: ClassVar[str] = ""
    """The flow's own grant, for messages."""

    error_hints: ClassVar[Mapping[str, str]] = ERROR_HINTS
    """What to suggest after each RFC 6749 error code, e.g. ``"; check ..."``."""

    def __init__(
        self, credentials: Credentials[UserT, ClientT], **options: Any
    ) -> None:
        super().__init__(credentials, **options)
        check_token_params(self.app)

    # -- tokens in the credentials --------------------------------------

    def seed(self) -> TokenRecord | None:
        """Return the tokens in the user side of the credentials."""
        user = self.user
        if user.access_token is None and user.refresh_token is None:
            return None
        return TokenRecord(
            access_token=user.access_token,
            refresh_token=user.refresh_token,
            expires_at=user.expires_at,
            token_type=user.token_type,
            scopes=user.scopes,
        )

    def with_token(self, record: TokenRecord) -> Credentials[UserT, ClientT]:
        """Return the credentials with ``record``'s tokens in the user side."""
        return self.credentials.with_user(
            access_token=record.access_token,
            refresh_token=record.refresh_token,
            expires_at=record.expires_at,
            token_type=record.token_type,
            scopes=record.scopes,
        )

    def identity(self) -> tuple[str, ...]:
        """Return the token endpoint, client, audience, scopes and user."""
        app = self.app
        return (
            app.token_url,
            app.client_id,
            app.audience or "",
            app.resource or "",
            " ".join(app.scopes),
            *self._user_identity(),
        )

    def _user_identity(self) -> tuple[str, ...]:
        return ()

    # -- renewing ---------------------------------------------------------

    def renew(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Refresh ``current`` if it has a refresh token, else run the grant."""
        if current is not None and current.refresh_token is not None:
            try:
                return (yield from self.refresh(current))
            except ReauthorizationRequired:
                if not self.regrants:
                    raise
                logger.info(
                    "refresh token of %s was refused; running the %s grant",
                    self.credentials.type.name,
                    self.grant_type,
                )
        return (yield from self.grant(current))

    def grant(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Return the exchange of the flow's own grant."""
        raise NotImplementedError

    def refresh(self, current: TokenRecord) -> Exchange[Issued]:
        """Return the exchange that spends ``current``'s refresh token."""
        assert current.refresh_token is not None
        refresh_token = current.refresh_token.reveal()
        return (
            yield from self.token_exchange(
                "refresh_token",
                [("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
                previous=current,
                secrets=[refresh_token],
            )
        )

    def token_exchange(
        self,
        grant_type: str,
        grant: list[tuple[str, str]],
        *,
        previous: TokenRecord | None = None,
        secrets: list[str] | None = None,
    ) -> Exchange[Issued]:
        """Send one token request, retrying transient failures; parse the answer.

        Args:
            grant_type: The grant, for messages and error mapping.
            grant: The grant's own fields.
            previous: The tokens being replaced, if any.
            secrets: Values in ``grant`` to keep out of error messages.
        """
        app = self.app
        known = [*(secrets or []), *self._known_secrets(previous)]

        attempt = 0
        while True:
            attempt += 1
            # Built again for every try: an assertion must not be replayed.
            request, added = self._token_request(grant)
            hidden = [*known, *added]
            logger.debug(
                "token request: %s grant to %s (try %d)",
                grant_type,
                app.token_url,
                attempt,
            )
            try:
                response = yield request
            except SendError as err:
                failure = (
                    f"could not reach token endpoint {app.token_url} for the "
                    f"{grant_type} grant: {err}"
                )
                pause = self._transient(attempt, None, TokenError(failure))
                if pause is None:
                    tries = f" ({attempt} tries)" if attempt > 1 else ""
                    raise TokenError(failure + tries) from err
                yield pause
                continue

            assert response is not None
            received_at = self.clock()
            if response.status_code in TRANSIENT_STATUSES:
                pause = self._transient_response(
                    response, received_at, attempt, grant_type, hidden
                )
                yield pause
                continue

            record, offset = parse_token_response(
                response,
                endpoint=app.token_url,
                grant_type=grant_type,
                received_at=received_at,
                default_lifetime=self.policy.default_lifetime,
                previous=previous,
                requested_scopes=app.scopes,
                secrets=hidden,
                hints=self.error_hints,
            )
            return Issued(record, offset)

    def authenticate_token_request(
        self, headers: MutableMapping[str, str], params: list[tuple[str, str]]
    ) -> Sequence[str]:
        """Add the client's authentication to one try of a token request.

        Called for every try, retries included, with the grant's fields
        already in ``params``; the app's ``audience``, ``resource`` and
        ``token_params`` are added after. The default applies the app's
        ``client_auth`` method. A plugin overrides it for another method,
        such as a signed client assertion with a fresh ``jti`` each try.

        Returns:
            The secret values it added, to mask in error messages (the
            app's ``client_secret`` is masked anyway).
        """
        apply_client_auth(self.app, headers, params)
        return ()

    def _token_request(self, grant: list[tuple[str, str]]) -> tuple[Request, list[str]]:
        added: list[str] = []

        def authenticate(
            headers: MutableMapping[str, str], params: list[tuple[str, str]]
        ) -> None:
            added.extend(self.authenticate_token_request(headers, params))

        return token_request(self.app, grant, authenticate=authenticate), added

    def _known_secrets(self, previous: TokenRecord | None) -> list[str]:
        """Return every secret the flow holds, to mask in server text."""
        values = [self.app.client_secret, getattr(self.user, "password", None)]
        if previous is not None:
            values += [previous.access_token, previous.refresh_token]
        return [value.reveal() for value in values if isinstance(value, Secret)]

    def _transient(
        self, attempt: int, asked: float | None, error: TokenError
    ) -> Pause | None:
        delay = self.policy.retry.delay(attempt, asked)
        if delay is None:
            return None
        logger.warning("%s; trying again in %.2g s (try %d)", error, delay, attempt + 1)
        return Pause(delay, str(error), error)

    def _transient_response(
        self,
        response: Response,
        received_at: float,
        attempt: int,
        grant_type: str,
        hidden: list[str],
    ) -> Pause:
        asked = retry_after(response, received_at)
        error = token_error(
            response,
            endpoint=self.app.token_url,
            grant_type=grant_type,
            secrets=hidden,
            hints=self.error_hints,
        )
        pause = self._transient(attempt, asked, error)
        if pause is not None:
            return pause

        retry = self.policy.retry
        if asked is not None and asked > retry.max_delay and attempt < retry.attempts:
            note = (
                f" and asked to be retried after {asked:g} s, longer than "
                f"max_delay ({retry.max_delay:g} s)"
            )
        else:
            note = f" ({attempt} tries)" if attempt > 1 else ""
        raise token_error(
            response,
            endpoint=self.app.token_url,
            grant_type=grant_type,
            secrets=hidden,
            note=note,
            hints=self.error_hints,
        )

    def _scope_param(self) -> list[tuple[str, str]]:
        scopes = self.app.scopes
        return [("scope", " ".join(scopes))] if scopes else []


class ClientCredentialsFlow(TokenFlow["OAuth2Token", "OAuth2Client"]):
    """The client credentials grant: the client acts for itself."""

    regrants = True
    grant_type = "client_credentials"

    def grant(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Ask for a token with the client's own credentials."""
        return (
            yield from self.token_exchange(
                "client_credentials",
                [("grant_type", "client_credentials"), *self._scope_param()],
                previous=current,
            )
        )


class PasswordFlow(TokenFlow["PasswordUser", "OAuth2Client"]):
    """The resource owner password grant."""

    regrants = True
    grant_type = "password"

    def _user_identity(self) -> tuple[str, ...]:
        return (self.user.username,)

    def grant(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Ask for a token with the user's name and password."""
        user: PasswordUser = self.user
        password = user.password.reveal()
        return (
            yield from self.token_exchange(
                "password",
                [
                    ("grant_type", "password"),
                    ("username", user.username),
                    ("password", password),
                    *self._scope_param(),
                ],
                previous=current,
                secrets=[password],
            )
        )


@frozen(kw_only=True)
class AuthorizationRequest:
    """A code grant in progress: where the user goes, and what to check.

    Keep it until the user comes back; :meth:`OAuth2Flow.exchange_code`
    needs its state and verifier.

    Args:
        url: The authorization URL to send the user to.
        state: The anti-forgery value the callback must bring back.
        redirect_uri: The redirect URI sent, if any; the exchange sends it
            again, as RFC 6749 section 4.1.3 requires.
        code_verifier: The PKCE verifier, when PKCE is on.
    """

    url: str
    state: str
    redirect_uri: str | None
    code_verifier: Secret | None = None


class OAuth2Flow(TokenFlow["OAuth2Token", "OAuth2App"]):
    """The authorization code grant with PKCE; tokens renew by refresh."""

    grant_type = "authorization_code"

    def _user_identity(self) -> tuple[str, ...]:
        # Nothing names the user, so the first token does; give the
        # credentials an auth_id to keep one key across restarts.
        user = self.user
        token = user.refresh_token or user.access_token
        if token is None:
            return ("",)
        return (hashlib.sha256(token.reveal().encode()).hexdigest(),)

    def grant(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Refuse: only the user can start a code grant."""
        raise ReauthorizationRequired(
            "the oauth2 credentials have no usable access token and no "
            "refresh token; the user must authorize (see "
            "OAuth2Flow.start_authorization, or the authplug authorize command)"
        )
        yield  # pragma: no cover - makes this a generator like the others

    def start_authorization(
        self,
        *,
        redirect_uri: str | None = None,
        state: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> AuthorizationRequest:
        """Begin a code grant: make the state, the PKCE pair and the URL.

        Args:
            redirect_uri: Where the service should send the user back;
                the app's ``redirect_uri`` if None.
            state: The state to use; a fresh random one if None.
            params: Extra authorization request parameters.
        """
        app = self.app
        verifier = make_verifier() if app.pkce else None
        state = state if state is not None else self.nonce()
        redirect_uri = redirect_uri if redirect_uri is not None else app.redirect_uri
        url = authorization_url(
            app,
            state=state,
            redirect_uri=redirect_uri,
            code_challenge=s256_challenge(verifier) if verifier else None,
            params=params,
        )
        return AuthorizationRequest(
            url=url,
            state=state,
            redirect_uri=redirect_uri,
            code_verifier=Secret(verifier) if verifier else None,
        )

    def exchange_code(
        self,
        authorization: AuthorizationRequest,
        callback: str | None = None,
        *,
        code: str | None = None,
    ) -> Exchange[Credentials[OAuth2Token, OAuth2App]]:
        """Exchange the code the user brought back for tokens.

        Args:
            authorization: What :meth:`start_authorization` returned.
            callback: The URL the user was redirected to (or its query);
                its ``state`` is checked.
            code: The code alone, for a user who copied it by hand; no
                state to check then.

        Returns:
            The credentials with the new tokens (an exchange: run it with
            an adapter's ``run``).

        Raises:
            TokenError: The callback carries an error (``access_denied``)
                or the server refused the code.
            FlowError: The state does not match, or there is no code.
        """
        code = self._code_from(authorization, callback, code)
        grant = [("grant_type", "authorization_code"), ("code", code)]
        if authorization.redirect_uri is not None:
            grant.append(("redirect_uri", authorization.redirect_uri))
        secrets = [code]
        if authorization.code_verifier is not None:
            verifier = authorization.code_verifier.reveal()
            grant.append(("code_verifier", verifier))
            secrets.append(verifier)

        issued = yield from self.token_exchange(
            "authorization_code", grant, secrets=secrets
        )
        return self.with_token(issued.record)

    @staticmethod
    def _code_from(
        authorization: AuthorizationRequest, callback: str | None, code: str | None
    ) -> str:
        if (callback is None) == (code is None):
            raise FlowError("give exchange_code either the callback URL or the code")
        if code is not None:
            return code

        assert callback is not None
        params = parse_callback(callback)
        if "error" in params:
            error = params["error"]
            description = params.get("error_description") or None
            message = f"the authorization was not granted: {error}"
            if description:
                message += f": {description}"
            raise TokenError(
                message,
                error=error,
                description=description,
                uri=params.get("error_uri") or None,
            )

        returned = params.get("state", "")
        if not hmac.compare_digest(returned.encode(), authorization.state.encode()):
            raise FlowError(
                "the callback's state does not match the authorization "
                "request: it belongs to another attempt or was forged; "
                "start the authorization again"
            )
        found = params.get("code")
        if not found:
            raise FlowError(
                "the callback carries no code; start the authorization again"
            )
        return found
