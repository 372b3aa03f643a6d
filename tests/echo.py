"""Hostile answers shared by the Prefect and Dagster tests: a trigger whose answer cannot be
read, a server that echoes the API key, and the search for any piece of the key in what a run
stored."""

from __future__ import annotations

import secrets
import string
from typing import Any

import httpx

from braze_cdi.testing import FakeBraze

REDACTED = "**********"
#: The shortest piece of the key that counts as a leak.
PIECE = 8
KEY_PREFIX = "sk-live-"
_ALPHABET = string.ascii_lowercase + string.digits


#: A 202 to the trigger whose gzip body is corrupt; Braze started the job before its answer was
#: garbled (for ``FakeBraze.inject("trigger", **UNDECODABLE_202)``).
UNDECODABLE_202 = {
    "status": 202,
    "body": b"\x1f\x8b\x08\x00 not gzip",
    "headers": {"Content-Encoding": "gzip"},
    "raw": True,
    "takes_effect": True,
}


def fail_the_job_list_after_the_first_read(fake: FakeBraze) -> None:
    """The trigger's outcome then stays unknown: the look after it fails, to the end."""
    fake.inject("status", headers={"X-Served-By": "braze"})  # Braze's own answer
    fake.inject("status", status=503, times=50)


def new_key() -> str:
    """A live-looking key. Its random part is not hex, so that no piece of it turns up by chance
    among the UUIDs a run stores."""
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(32))


class EchoingBraze(FakeBraze):
    """A FakeBraze whose status lines can carry a reason phrase of the test's choosing."""

    reason_phrase: str | None = None

    def reply(self, request: httpx.Request) -> Any:
        reply = super().reply(request)
        if self.reason_phrase is not None and reply.response is not None:
            reply.response.extensions["reason_phrase"] = self.reason_phrase.encode("ascii")
        return reply


def pieces_of(text: str) -> set[str]:
    """Every ``PIECE``-long piece of ``text``, lower-cased."""
    lowered = text.lower()
    return {lowered[start : start + PIECE] for start in range(len(lowered) - PIECE + 1)}


def key_sightings(key: str, stored: dict[str, str], *, shared: tuple[str, ...] = ()) -> list[str]:
    """Where the key, or any piece of it ``PIECE`` characters long, appears in any case.

    In the places named by a prefix in ``shared`` (storage every test of the session writes to,
    whose keys all begin alike), only the pieces of this key's own random part are looked for.
    """
    every_piece, own_pieces = pieces_of(key), pieces_of(key.removeprefix(KEY_PREFIX))
    sightings = []
    for where, text in stored.items():
        haystack = text.lower()
        for piece in own_pieces if where.startswith(shared) else every_piece:
            at = haystack.find(piece)
            if at >= 0:
                sightings.append(f"{where}: ...{text[max(0, at - 100) : at + 100]}...")
                break
    return sightings
