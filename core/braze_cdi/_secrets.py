"""The API key: held in a secret type from the first line that sees it, checked, and kept out
of everything braze-cdi says.

Redaction is by construction: the key never sits in a plain local, a dict of headers or a repr,
and every piece of text a server sent is redacted before it is quoted or cut. The one place
text is searched afterwards is httpx's and httpcore's own log records, which quote a server's
status line and headers.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref

from pydantic import SecretStr

from ._errors import BrazeConfigError, Hint, Setting

__all__ = ["MIN_API_KEY_LENGTH", "Redactor", "secret_api_key"]

#: The shortest key accepted: a shorter one would turn up by chance in the text Braze sends,
#: and could not be told from it when it is redacted. Braze's REST API keys are 36 characters.
MIN_API_KEY_LENGTH = 16


def secret_api_key(value: SecretStr) -> SecretStr:
    """The key in a secret type, checked: missing, too short, or not sendable in a header is
    refused. The key is never bound to a plain local here, so no traceback's frame shows it."""
    secret = SecretStr("") if value.get_secret_value() is None else value
    if not isinstance(secret.get_secret_value(), str):
        raise BrazeConfigError(
            "The Braze API key must be a string or a SecretStr, not "
            f"{type(secret.get_secret_value()).__name__}."
        )
    if not secret.get_secret_value().strip():
        raise BrazeConfigError(
            "The Braze API key is missing.",
            hint=Hint(
                "Pass {} or set BRAZE_API_KEY to a REST API key with the cdi.* permissions.",
                (Setting("api_key"),),
            ),
        )
    if not _sendable(secret):
        raise BrazeConfigError(
            "The Braze API key contains whitespace or characters a header cannot carry.",
            hint="Copy the key again from the Braze dashboard (Settings > APIs and Identifiers).",
        )
    if len(secret.get_secret_value()) < MIN_API_KEY_LENGTH:
        raise BrazeConfigError(
            f"The Braze API key is shorter than {MIN_API_KEY_LENGTH} characters, so it could "
            "not be kept out of messages safely.",
            hint="Braze's REST API keys are 36 characters: copy the whole key from the Braze "
            "dashboard (Settings > APIs and Identifiers).",
        )
    return secret


def _sendable(secret: SecretStr) -> bool:
    return (
        secret.get_secret_value() == secret.get_secret_value().strip()
        and secret.get_secret_value().isascii()
        and secret.get_secret_value().isprintable()
    )


class Redactor:
    """Takes the key out of text a server sent, before anything quotes or cuts that text.

    Case-insensitive: a server echoing the key may change its case. While it lives, the log
    records of httpx and httpcore are redacted with it too.
    """

    def __init__(self, api_key: SecretStr) -> None:
        # As it is, and as a URL may spell it (any of its other characters percent-encoded): a
        # server that makes the key its next-page cursor gets it into the request's URL, which
        # httpx logs encoded.
        self._pattern = re.compile(
            "".join(
                re.escape(c) if c.isalnum() else f"(?:{re.escape(c)}|%{ord(c):02X})"
                for c in api_key.get_secret_value()
            ),
            re.IGNORECASE,
        )
        _redact_http_logs(self)

    def __call__(self, text: str) -> str:
        return self._pattern.sub("**********", text)

    def __repr__(self) -> str:
        return "Redactor(<the API key>)"


# httpx logs each answer's status line, and httpcore at DEBUG each answer's headers: text a
# server chose. Their records pass through every live client's Redactor.
_HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
_live: weakref.WeakSet[Redactor] = weakref.WeakSet()
_install = threading.Lock()


class _RedactRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redactors = list(_live)
        if redactors:
            text = record.getMessage()
            for redact in redactors:
                text = redact(text)
            record.msg, record.args = text, None
        return True


_filter = _RedactRecords()


def _redact_http_logs(redactor: Redactor) -> None:
    with _install:
        if not _live:
            for name in _HTTP_LOGGERS:
                logging.getLogger(name).addFilter(_filter)  # adding twice adds once
        _live.add(redactor)
