"""Example Shop API keys: a token type that also names the shop."""

from __future__ import annotations

import re

from attrs import frozen

from authplug import AuthType, describe, field_validator, hookimpl
from authplug.builtin.token import TOKEN, TokenApp

SHOP_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


@field_validator
def _check_shop(value: str) -> None:
    if not re.match(SHOP_PATTERN, value):
        raise ValueError(f"must be a subdomain such as 'acme-books', got {value!r}")


@frozen(kw_only=True)
class ShopApp(TokenApp):
    """How the key is sent, and which shop it opens."""

    shop: str = describe(
        "The shop's subdomain, as in https://<shop>.shop.example",
        validator=_check_shop,
        metadata={"json_schema": {"pattern": SHOP_PATTERN}},
    )


SHOP = TOKEN.derive(
    name="example.shop",
    summary="Example Shop API key for one shop",
    app_model=ShopApp,
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the example.shop type."""
    return [SHOP]
