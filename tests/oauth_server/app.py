"""The Flask application: Authlib's authorization server plus test hooks.

Routes:

- ``POST /token``: the token endpoint (all grants), with fault injection
  and a record of every request.
- ``GET /authorize``: the code flow's authorization endpoint. It approves
  at once for the user named by ``login_as`` (or the configured
  ``logged_in_user``) and redirects to the client with ``code`` and
  ``state``; no browser, no form.
- ``GET|POST /api/me``: a protected resource. It answers JSON about the
  token; 401 with ``WWW-Authenticate: Bearer ... error="invalid_token"``
  for an unknown, expired or revoked token; 403 ``insufficient_scope`` when
  ``?require_scope=`` names a scope the token lacks.
- ``POST /revoke``: RFC 7009 revocation.
- ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata.
- ``/_admin/...``: JSON control of a server in another process (see
  :mod:`.process`). Loopback test use only: it has no authentication.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from authlib.common.security import generate_token, is_secure_transport
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, g, jsonify
from flask import request as flask_request

from . import config as cfg
from .grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    ClientSecretJWTAuth,
    JWTBearerTokenGrant,
    PasswordGrant,
    PrivateKeyJWTAuth,
    RefreshTokenGrant,
    TokenRevocation,
    authenticate_basic,
)
from .models import AccessToken
from .records import ApiRequestRecord, TokenRequestRecord
from .store import Arrival, Store

__all__ = ["REALM", "FixtureAuthorizationServer", "create_app"]

logger = logging.getLogger(__name__)

REALM = "authplug-test"

# Authlib refuses plain http unless the URL is a loopback one (it allows
# those since 1.6); older releases need the opt-out. Set only when needed,
# because it is process-wide and would hide https checks in client tests.
if not is_secure_transport("http://127.0.0.1:8000/token"):  # pragma: no cover
    import os

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"


class FixtureAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's Flask server, remembering who authenticated and shaping tokens.

    Shaping covers only what goes on the wire (the ``expires_in`` format,
    ``token_type``, extra members); the stored token keeps its real
    lifetime, so the API still expires it on time.
    """

    def __init__(self, app: Flask, store: Store) -> None:
        self.store = store
        super().__init__(app, query_client=store.query_client)

    def authenticate_client(
        self, request: Any, methods: list[str], endpoint: str = "token"
    ) -> Any:
        """Authenticate as Authlib does; note the client for the record."""
        client = super().authenticate_client(request, methods, endpoint)
        g.client_id = client.get_client_id()
        g.auth_method = request.auth_method
        return client

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store an issued token with what the API reports about it."""
        grant_type = request.payload.grant_type
        extras = {
            k: request.form[k] for k in ("audience", "resource") if k in request.form
        }
        self.store.save_token(
            token,
            client=request.client,
            user=request.user,
            grant_type=grant_type,
            used_refresh_token=(
                request.refresh_token if grant_type == "refresh_token" else None
            ),
            extras=extras,
        )
        request.issued_access_token = token["access_token"]
        # The JWT bearer grant names its client without authenticating it.
        if g.get("client_id") is None:
            g.client_id = request.client.get_client_id()

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        """Shape successful token responses, then let Authlib answer."""
        if (
            status_code == 200
            and isinstance(payload, dict)
            and "access_token" in payload
        ):
            payload = _shape_token(payload, self.store.settings)
        response: Response = super().handle_response(status_code, payload, headers)
        return response


def _shape_token(payload: dict[str, Any], settings: cfg.Settings) -> dict[str, Any]:
    body = dict(payload)
    body["token_type"] = settings.token_type
    body.pop("expires_in", None)

    lifetime = settings.access_token_lifetime
    if lifetime is not None and settings.expires_in_format != "omit":
        body["expires_in"] = {
            "int": int(lifetime),
            "float": float(lifetime),
            "string": str(int(lifetime)),
            "float-string": str(float(lifetime)),
        }[settings.expires_in_format]

    body.update(settings.extra_token_fields)
    return body


class _Validator(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, store: Store) -> None:
        super().__init__(realm=REALM)
        self.store = store

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return self.store.find_access_token(token_string)


def create_app(store: Store) -> Flask:
    """Build the Flask app serving ``store``."""
    app = Flask("authplug_test_oauth_server")
    server = _build_authorization_server(app, store)
    protector = ResourceProtector()
    protector.register_token_validator(_Validator(store))

    _add_oauth_routes(app, store, server)
    _add_api_routes(app, store, protector)
    _add_admin_routes(app, store)
    return app


def _build_authorization_server(app: Flask, store: Store) -> FixtureAuthorizationServer:
    server = FixtureAuthorizationServer(app, store)

    def expires_in(client: Any, grant_type: str) -> int:
        lifetime = store.settings.access_token_lifetime
        return 0 if lifetime is None else int(lifetime)

    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=_random_token(42),
            refresh_token_generator=_random_token(48),
            expires_generator=expires_in,
        ),
    )
    server.register_client_auth_method("client_secret_basic", authenticate_basic(store))
    server.register_client_auth_method("private_key_jwt", PrivateKeyJWTAuth(store))
    server.register_client_auth_method("client_secret_jwt", ClientSecretJWTAuth(store))

    server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
    server.register_grant(PasswordGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(RefreshTokenGrant)
    server.register_grant(JWTBearerTokenGrant)
    server.register_endpoint(TokenRevocation)
    return server


def _random_token(length: int) -> Callable[..., str]:
    def generate(**_: Any) -> str:
        return str(generate_token(length))

    return generate


# -- faults -----------------------------------------------------------------


def _fault_response(store: Store, arrival: Arrival) -> Response | None:
    """Answer the drawn fault; None means carry on with the real answer."""
    fault = arrival.fault
    if fault is None:
        return None

    if fault.kind == "delay":
        if store.sleep(arrival, fault.seconds):
            return None
        return _stale()

    if fault.kind == "drop":
        _drop_connection()
        return Response(status=500)

    if fault.kind == "oauth_error":
        error = _oauth_error(arrival, fault)
        return _error_response(error)

    response = Response(
        fault.body, status=fault.status, content_type=fault.content_type
    )
    for name, value in fault.headers:
        response.headers[name] = value
    return response


def _oauth_error(arrival: Arrival, fault: cfg.Fault) -> OAuth2Error:
    description = fault.description or None
    if arrival.endpoint == "api":
        error: OAuth2Error = InvalidTokenError(
            description=description, status_code=fault.status, realm=REALM
        )
    else:
        error = OAuth2Error(description=description, status_code=fault.status)
    error.error = fault.error
    return error


def _error_response(error: OAuth2Error) -> Response:
    status, body, headers = error()
    return Response(json.dumps(body), status=status, headers=headers)


def _drop_connection() -> None:
    sock = flask_request.environ.get("werkzeug.socket")
    if sock is not None:
        # The client may have left first.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _stale() -> Response:
    # A reset happened while this request slept: the test that sent it is
    # over, so answer without touching the new test's state.
    return Response("server was reset", status=503, content_type="text/plain")


def _lower_headers() -> dict[str, str]:
    return {name.lower(): value for name, value in flask_request.headers.items()}


def _body_of(response: Response) -> Any:
    text = response.get_data(as_text=True)
    if response.mimetype == "application/json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


# -- OAuth routes -------------------------------------------------------------


def _add_oauth_routes(
    app: Flask, store: Store, server: FixtureAuthorizationServer
) -> None:
    @app.post("/token")
    def token() -> Response:
        form = flask_request.form
        arrival = store.arrive_token(
            TokenRequestRecord(
                index=-1,
                grant_type=form.get("grant_type"),
                form={k: form[k] for k in form},
                form_lists={k: tuple(form.getlist(k)) for k in form},
                query=dict(flask_request.args.items()),
                headers=_lower_headers(),
                received_at=time.time(),
            )
        )
        fault_kind = arrival.fault.kind if arrival.fault else None

        faulted = _fault_response(store, arrival)
        if faulted is not None:
            store.finish(
                arrival,
                fault=fault_kind,
                status=faulted.status_code,
                response=_body_of(faulted),
            )
            return faulted

        with store.lock:
            if not store.is_current(arrival.generation):
                return _stale()
            response: Response = server.create_token_response()
            store.finish(
                arrival,
                fault=fault_kind,
                status=response.status_code,
                client_id=g.get("client_id"),
                auth_method=g.get("auth_method"),
                response=_body_of(response),
            )
        return response

    @app.get("/authorize")
    def authorize() -> Response:
        with store.lock:
            settings = store.settings
            username = flask_request.args.get("login_as") or settings.logged_in_user
            user = store.users.get(username) if username else None

            try:
                grant = server.get_consent_grant(end_user=user)
            except OAuth2Error as error:
                result: Response = server.handle_error_response(None, error)
                return result

            if user is None and not settings.deny_consent:
                who = f"unknown user {username!r}" if username else "no user logged in"
                page = (
                    f"{who}: add login_as=<username> to the authorization URL or "
                    "set logged_in_user with configure()"
                )
                return Response(page, status=400, content_type="text/plain")

            grant_user = None if settings.deny_consent else user
            result = server.create_authorization_response(
                grant_user=grant_user, grant=grant
            )
            return result

    @app.post("/revoke")
    def revoke() -> Response:
        with store.lock:
            result: Response = server.create_endpoint_response("revocation")
            return result

    @app.get("/.well-known/oauth-authorization-server")
    def metadata() -> Response:
        issuer = flask_request.url_root.rstrip("/")
        methods = [
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt",
            "client_secret_jwt",
        ]
        return jsonify(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            revocation_endpoint=f"{issuer}/revoke",
            response_types_supported=["code"],
            grant_types_supported=[
                "authorization_code",
                "client_credentials",
                "password",
                "refresh_token",
                cfg.JWT_BEARER_GRANT,
            ],
            token_endpoint_auth_methods_supported=methods,
            token_endpoint_auth_signing_alg_values_supported=[
                "RS256",
                "ES256",
                "HS256",
            ],
            code_challenge_methods_supported=["S256", "plain"],
        )


# -- protected resource -------------------------------------------------------


def _add_api_routes(app: Flask, store: Store, protector: ResourceProtector) -> None:
    @app.route("/api/me", methods=["GET", "POST"])
    def api_me() -> Response:
        header = flask_request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        arrival = store.arrive_api(
            ApiRequestRecord(
                index=-1,
                method=flask_request.method,
                path=flask_request.path,
                headers=_lower_headers(),
                access_token=value.strip() if scheme.lower() == "bearer" else None,
                received_at=time.time(),
            )
        )
        fault_kind = arrival.fault.kind if arrival.fault else None

        faulted = _fault_response(store, arrival)
        if faulted is not None:
            store.finish(arrival, fault=fault_kind, status=faulted.status_code)
            return faulted

        required = flask_request.args.get("require_scope")
        with store.lock:
            if not store.is_current(arrival.generation):
                return _stale()
            try:
                token: AccessToken = protector.acquire_token(
                    [required] if required else None
                )
            except MissingAuthorizationError:
                # RFC 6750 section 3.1: no error code when no token came.
                store.finish(arrival, fault=fault_kind, status=401)
                return Response(
                    json.dumps({"error": "unauthorized"}),
                    status=401,
                    headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
                    content_type="application/json",
                )
            except OAuth2Error as error:
                store.finish(arrival, fault=fault_kind, status=error.status_code)
                return _error_response(error)

            user = token.get_user()
            payload = {
                "sub": user.username if user else None,
                "client_id": token.client.get_client_id(),
                "scope": token.scope,
                "grant_type": token.grant_type,
                **token.extras,
            }
            store.finish(
                arrival,
                fault=fault_kind,
                status=200,
                client_id=payload["client_id"],
                username=payload["sub"],
            )
        return jsonify(payload)


# -- admin (control from another process) --------------------------------------


def _add_admin_routes(app: Flask, store: Store) -> None:
    def body() -> Mapping[str, Any]:
        data = flask_request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @app.errorhandler(cfg.ConfigError)
    def config_error(error: cfg.ConfigError) -> tuple[Response, int]:
        return jsonify(error="invalid_config", detail=str(error)), 400

    @app.post("/_admin/reset")
    def admin_reset() -> Response:
        store.reset()
        return jsonify(ok=True)

    @app.post("/_admin/configure")
    def admin_configure() -> Response:
        settings = store.configure(**body())
        return jsonify(cfg.to_json(settings))

    @app.post("/_admin/clients")
    def admin_add_client() -> Response:
        client = store.add_client(cfg.from_json(dict(body()), cfg.ClientConfig))
        return jsonify(cfg.to_json(client))

    @app.delete("/_admin/clients/<client_id>")
    def admin_remove_client(client_id: str) -> Response:
        store.remove_client(client_id)
        return jsonify(ok=True)

    @app.post("/_admin/users")
    def admin_add_user() -> Response:
        user = store.add_user(cfg.from_json(dict(body()), cfg.UserConfig))
        return jsonify(cfg.to_json(user))

    @app.post("/_admin/faults")
    def admin_inject() -> Response:
        data = dict(body())
        fault = cfg.from_json(data.pop("fault", None), cfg.Fault)
        store.inject(
            fault,
            times=data.get("times", 1),
            endpoint=data.get("endpoint", "token"),
            grant_type=data.get("grant_type"),
        )
        return jsonify(ok=True)

    @app.delete("/_admin/faults")
    def admin_clear_faults() -> Response:
        store.clear_faults()
        return jsonify(ok=True)

    @app.post("/_admin/expire")
    def admin_expire() -> Response:
        count = store.expire_access_tokens(body().get("token"))
        return jsonify(expired=count)

    @app.post("/_admin/revoke")
    def admin_revoke() -> Response:
        return jsonify(revoked=store.revoke(str(body().get("token", ""))))

    @app.get("/_admin/records")
    def admin_records() -> Response:
        with store.lock:
            return jsonify(
                token_requests=cfg.to_json(list(store.token_records)),
                api_requests=cfg.to_json(list(store.api_records)),
                token_counts=dict(store.token_counts),
            )
