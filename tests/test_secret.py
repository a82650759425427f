"""Secret: masked everywhere text is made, revealed only on request."""

from __future__ import annotations

import copy
import logging
import pickle
import traceback
from typing import Any

import pytest

import authplug
from authplug import ConfigError, Secret
from authplug.secret import MASK, reveal

VALUE = "sk-live-4f9a2c7e"

log = logging.getLogger("tests.secret")


def test_repr_str_and_format_show_only_the_mask() -> None:
    secret = Secret(VALUE)

    shown = [
        repr(secret),
        str(secret),
        format(secret),
        format(secret, ">20"),
        f"{secret}",
        f"{secret!r}",
        f"{secret!s}",
        f"{secret:^30}",
        "{}".format(secret),  # noqa: UP032 - str.format is what is tested
        "{0!r}".format(secret),  # noqa: UP030, UP032
        "%s" % secret,  # noqa: UP031 - so is %-formatting
        "%r" % (secret,),  # noqa: UP031
        "%(key)s" % {"key": secret},  # noqa: UP031
        repr([secret]),
        repr({"token": secret}),
        str((secret,)),
    ]

    assert all(VALUE not in text for text in shown)
    assert repr(secret) == f"Secret({MASK!r})"
    assert str(secret) == MASK
    assert format(secret, ">10") == f"{MASK:>10}"


def test_a_bad_format_spec_fails_without_the_value() -> None:
    with pytest.raises(ValueError) as info:
        format(Secret(VALUE), "d")

    assert VALUE not in str(info.value)


def test_logging_never_shows_the_value(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret(VALUE)
    caplog.set_level(logging.DEBUG, logger="tests.secret")

    log.info("token %s", secret)
    log.info("token %r", secret)
    log.warning("tokens %s", [secret, secret])
    log.error("mapping %(token)s", {"token": secret})
    try:
        raise RuntimeError(secret)
    except RuntimeError:
        log.exception("failed with %s", secret)

    assert len(caplog.records) == 5
    assert VALUE not in caplog.text
    assert all(VALUE not in record.getMessage() for record in caplog.records)
    assert MASK in caplog.text


def test_a_traceback_of_an_error_holding_a_secret_shows_the_mask() -> None:
    try:
        raise ValueError("bad token", Secret(VALUE))
    except ValueError as err:
        text = "".join(traceback.format_exception(err))

    assert VALUE not in text
    assert MASK in text


def test_reveal_returns_the_value() -> None:
    assert Secret(VALUE).reveal() == VALUE
    assert Secret("").reveal() == ""


def test_the_module_reveal_helper() -> None:
    assert reveal(Secret(VALUE)) == VALUE
    assert reveal("plain") == "plain"
    assert reveal(None) is None


def test_wrapping_a_secret_keeps_the_value_not_a_nested_secret() -> None:
    wrapped = Secret(Secret(VALUE))

    assert wrapped.reveal() == VALUE
    assert wrapped == Secret(VALUE)


@pytest.mark.parametrize("value", [12345678, b"sk-live-bytes", ["sk-live-list"], None])
def test_only_strings_are_held_and_the_refusal_names_only_the_kind(
    value: object,
) -> None:
    with pytest.raises(TypeError) as info:
        Secret(value)  # type: ignore[arg-type]

    assert "12345678" not in str(info.value)
    assert "sk-live" not in str(info.value)
    assert type(value).__name__ in str(info.value)


def test_equality_compares_values() -> None:
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret(VALUE + "x")
    assert Secret("") == Secret("")
    assert Secret("é") == Secret("é")


def test_a_secret_is_not_equal_to_its_plain_string() -> None:
    # Equal to a str would let "token == user_input" creep into code; a
    # comparison should always be made between two secrets.
    assert Secret(VALUE) != VALUE
    assert Secret(VALUE) != VALUE
    assert Secret(VALUE).__eq__(VALUE) is NotImplemented


def test_equality_takes_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = authplug.secret.hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(authplug.secret.hmac, "compare_digest", recording)

    assert Secret("abc") == Secret("abc")
    assert Secret("abc") != Secret("abd")
    assert Secret("ab") != Secret("abcdef")

    # Every comparison, equal or not and whatever the lengths, goes through
    # the constant-time primitive rather than short-circuiting str ==.
    assert calls == [(b"abc", b"abc"), (b"abc", b"abd"), (b"ab", b"abcdef")]


def test_equal_secrets_hash_alike_and_work_in_sets() -> None:
    assert hash(Secret(VALUE)) == hash(Secret(VALUE))
    assert len({Secret(VALUE), Secret(VALUE), Secret("other")}) == 2


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(protocol: int) -> None:
    secret = Secret(VALUE)

    restored = pickle.loads(pickle.dumps(secret, protocol=protocol))

    assert isinstance(restored, Secret)
    assert restored == secret
    assert restored.reveal() == VALUE


def test_copies_are_equal_secrets() -> None:
    secret = Secret(VALUE)

    assert copy.copy(secret) == secret
    assert copy.deepcopy(secret).reveal() == VALUE


def test_truth_and_length() -> None:
    assert Secret(VALUE)
    assert not Secret("")
    assert len(Secret("abc")) == 3


def test_a_secret_has_no_instance_dict_to_leak_through() -> None:
    secret = Secret(VALUE)

    with pytest.raises(TypeError):
        vars(secret)
    assert VALUE not in repr(dir(secret))


def _load_error(document: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        authplug.build_registry(entry_points=False, plugins=_builtins()).load(document)
    return str(info.value)


def _builtins() -> dict[str, object]:
    from authplug.builtin import basic, oauth1, oauth2, token

    return {"token": token, "basic": basic, "oauth2": oauth2, "oauth1": oauth1}


OAUTH2_APP = {
    "client_id": "c",
    "client_secret": "s",
    "token_url": "https://example.com/token",
    "auth_url": "https://example.com/authorize",
}


@pytest.mark.parametrize(
    "document",
    [
        # An int or a table where a secret string goes.
        {"type": "token", "user": {"access_token": 48151623}},
        {"type": "token", "user": {"access_token": {"value": VALUE}}},
        {"type": "token", "user": {"access_token": [VALUE]}},
        {"type": "basic", "user": {"username": "u", "password": 48151623}},
        # A secret given as the value of an unknown field.
        {"type": "token", "user": {"access_token": "t", "acess_token": VALUE}},
        {"type": "token", "user": {"access_token": "t"}, "app": {"apikey": VALUE}},
        {"type": "token", "user": {"access_token": "t"}, "extra": VALUE},
        # A secret pasted into a field of another kind.
        {"type": "token", "user": {"access_token": "t"}, "app": {"location": VALUE}},
        {
            "type": "token",
            "user": {"access_token": "t"},
            "app": {"header_name": VALUE + "=="},
        },
        {"type": "basic", "user": {"username": VALUE + ":", "password": "p"}},
        {"type": "oauth2", "app": {**OAUTH2_APP, "token_url": VALUE}},
        {"type": "oauth2", "app": {**OAUTH2_APP, "client_auth": VALUE}},
        {"type": "oauth2", "app": {**OAUTH2_APP, "pkce": VALUE}},
        {"type": "oauth2", "app": {**OAUTH2_APP, "token_params": {"k": 48151623}}},
        {"type": "oauth2", "app": OAUTH2_APP, "user": {"expires_at": VALUE}},
        {
            "type": "oauth2",
            "app": {**OAUTH2_APP, "token_url": f"http://example.com/?key={VALUE}"},
        },
        {
            "type": "oauth1",
            "app": {"consumer_key": "k", "consumer_secret": "s", "callback_uri": VALUE},
        },
    ],
)
def test_misplaced_secrets_stay_out_of_config_errors(document: dict[str, Any]) -> None:
    message = _load_error(document)

    assert VALUE not in message
    assert "48151623" not in message
    assert message.count("\n") >= 1  # a real error list, not an empty one
