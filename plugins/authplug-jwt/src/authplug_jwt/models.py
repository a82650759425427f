"""The models of the two types: the built-in OAuth2 client, plus a key.

Both app models derive from :class:`~authplug.builtin.oauth2.OAuth2Client`
through :class:`SigningClient`, so the token endpoint, client id, scopes,
``audience``, ``resource`` and ``token_params`` mean what they mean for
every OAuth2 type, and the core's token flow machinery takes them as they
are. What each changes:

- :class:`JWTBearerApp` keeps ``client_auth`` and ``client_secret``: the
  assertion is the grant, and a server may want the client authenticated
  besides (RFC 7521 section 4.1). It defaults to ``none``, as most servers
  need no more than the assertion.
- :class:`PrivateKeyJWTApp` *is* a client authentication method, so its
  ``client_auth`` can only be ``private_key_jwt`` and it takes no client
  secret. attrs lets a subclass redefine an inherited field, which is how
  both are narrowed; the field stays (a subclass cannot drop one), its
  schema only allows null, and loading refuses a value saying why.

The key is checked on load: a PEM that does not parse, a public key, an
encrypted key, a short RSA key, an EC key on another curve, or a key of
the wrong kind for ``algorithm`` is a :class:`~authplug.ConfigError` naming
``app.private_key``, and never quoting it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Final, Literal

from attrs import frozen
from authplug.builtin.oauth2 import ClientAuthMethod, OAuth2Client, OAuth2Token
from authplug.errors import ConfigError, FieldError
from authplug.fields import describe, field_validator
from authplug.secret import Secret

from authplug_jwt.assertion import MAX_LIFETIME, RESERVED_CLAIMS
from authplug_jwt.keys import PEM_PATTERN, Algorithm, SigningKey, load_signing_key

__all__ = [
    "DEFAULT_LIFETIME",
    "JWTBearerApp",
    "JWTBearerUser",
    "PrivateKeyJWTApp",
    "SigningClient",
]

DEFAULT_LIFETIME: Final = 300
"""Seconds an assertion is valid unless configured: five minutes."""

# One word or phrase of printable text: no control characters, no blank
# at either end. Checked on loading and put in the JSON Schema, so that a
# form accepts what loading does.
_TEXT: Final = r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?"
_TEXT_RULE: Final = re.compile(_TEXT)
_TEXT_SCHEMA: Final = {"json_schema": {"pattern": f"^(?:{_TEXT})(?![\\s\\S])"}}
_TEXT_PROBLEM: Final = (
    "must be non-empty text without control characters or blanks at either end"
)


def _text_problem(value: object) -> str | None:
    if isinstance(value, str) and _TEXT_RULE.fullmatch(value):
        return None
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    return _TEXT_PROBLEM


def _check_text(value: object) -> None:
    problem = _text_problem(value)
    if problem is not None:
        raise ValueError(problem)


def _claim_path(name: str) -> str:
    plain = re.fullmatch(r"[A-Za-z0-9_-]+", name)
    return f"claims.{name}" if plain else f"claims[{name!r}]"


@frozen(kw_only=True)
class SigningClient(OAuth2Client):
    """An OAuth2 client that signs assertions with its own private key."""

    private_key: Secret = describe(
        "The client's PEM private key: RSA of 2048 bits or more (RS256) or "
        "EC P-256 (ES256), unencrypted",
        metadata={"json_schema": {"pattern": PEM_PATTERN}},
    )
    key_id: str | None = describe(
        "Sent as the kid header, naming the public key the server holds",
        default=None,
        metadata=_TEXT_SCHEMA,
    )
    algorithm: Algorithm | None = describe(
        "RS256 or ES256; by default the one the key is for", default=None
    )
    assertion_lifetime: int = describe(
        f"Seconds each assertion is valid, 1 to {MAX_LIFETIME}",
        default=DEFAULT_LIFETIME,
        metadata={"json_schema": {"minimum": 1, "maximum": MAX_LIFETIME}},
    )
    assertion_audience: str | None = describe(
        "The assertion's aud claim; the token_url by default",
        default=None,
        metadata=_TEXT_SCHEMA,
    )
    claims: dict[str, str] = describe(
        "Further claims for every assertion, such as Google's scope",
        factory=dict,
        hash=False,
        metadata={
            "json_schema": {
                "propertyNames": {
                    "minLength": 1,
                    "not": {"enum": sorted(RESERVED_CLAIMS)},
                }
            }
        },
    )

    def __attrs_post_init__(self) -> None:
        errors = [*self._signing_problems(), *self._client_problems()]
        if errors:
            raise ConfigError(errors)

    def signing_key(self) -> SigningKey:
        """Return the private key, ready to sign.

        Raises:
            ConfigError: Naming ``private_key``, for a model that was not
                checked on construction.
        """
        try:
            return load_signing_key(
                self.private_key.reveal(),
                algorithm=self.algorithm,
                key_id=self.key_id,
            )
        except ValueError as err:
            raise ConfigError([FieldError("private_key", str(err))]) from None

    @property
    def audience_claim(self) -> str:
        """Return the ``aud`` of the assertions: the audience, or token_url."""
        return self.assertion_audience or self.token_url

    def _client_problems(self) -> list[FieldError]:
        try:
            OAuth2Client.__attrs_post_init__(self)
        except ConfigError as err:
            return list(err.errors)
        return []

    def _signing_problems(self) -> list[FieldError]:
        errors = []
        if not isinstance(self.private_key, Secret):
            errors.append(FieldError("private_key", "must be a Secret"))
        else:
            try:
                self.signing_key()
            except ConfigError as err:
                errors.extend(err.errors)

        for name in ("key_id", "assertion_audience"):
            value = getattr(self, name)
            problem = None if value is None else _text_problem(value)
            if problem is not None:
                errors.append(FieldError(name, problem))

        lifetime = self.assertion_lifetime
        in_range = isinstance(lifetime, int) and 1 <= lifetime <= MAX_LIFETIME
        if isinstance(lifetime, bool) or not in_range:
            errors.append(
                FieldError(
                    "assertion_lifetime",
                    f"must be a whole number of seconds from 1 to {MAX_LIFETIME}",
                )
            )

        for name in self.claims:
            if name in RESERVED_CLAIMS:
                errors.append(
                    FieldError(
                        _claim_path(name),
                        "is set by the assertion itself; use the field for it "
                        "(client_id, subject, assertion_audience, "
                        "assertion_lifetime) instead",
                    )
                )
            elif not name:
                errors.append(FieldError(_claim_path(name), "needs a name"))
        return errors


@frozen(kw_only=True)
class JWTBearerApp(SigningClient):
    """A client that gets tokens with the JWT bearer grant (RFC 7523 2.1)."""

    client_auth: ClientAuthMethod = describe(
        "How the client authenticates besides the assertion; most servers "
        "need nothing more (none)",
        default="none",
    )

    # A secret is needed exactly when client_auth names a secret method.
    __authplug_schema__: ClassVar[dict[str, Any]] = {
        "if": {
            "properties": {
                "client_auth": {"enum": ["client_secret_basic", "client_secret_post"]}
            },
            "required": ["client_auth"],
        },
        "then": {
            "properties": {"client_secret": {"type": "string"}},
            "required": ["client_secret"],
        },
    }


PRIVATE_KEY_JWT: Final = "private_key_jwt"


@frozen(kw_only=True)
class PrivateKeyJWTApp(SigningClient):
    """A client that authenticates with a signed JWT (RFC 7523 2.2)."""

    # Narrower than the inherited choices, on purpose: this model is the
    # private_key_jwt method, which the core's apply_client_auth does not
    # know; the flow authenticates instead.
    client_auth: Literal["private_key_jwt"] = describe(  # type: ignore[assignment]
        "How the client authenticates: private_key_jwt, always",
        default=PRIVATE_KEY_JWT,
    )
    client_secret: Secret | None = describe(
        "Not used: the client proves itself with private_key",
        default=None,
        metadata={"json_schema": {"const": None}},
    )

    __authplug_schema__: ClassVar[dict[str, Any]] = {}

    def _client_problems(self) -> list[FieldError]:
        if self.client_secret is None:
            return []
        return [
            FieldError(
                "client_secret",
                "is not used by private_key_jwt, where the client signs with "
                "private_key; remove client_secret",
            )
        ]


@frozen(kw_only=True)
class JWTBearerUser(OAuth2Token):
    """Whom the client asks a token for, then the tokens issued."""

    subject: str = describe(
        "The assertion's sub: the user the token acts for, or the client_id "
        "when the client acts for itself",
        validator=field_validator(_check_text),
        metadata=_TEXT_SCHEMA,
    )
