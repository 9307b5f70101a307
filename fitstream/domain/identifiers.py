"""The one pattern every externally chosen id must match: user, device, workout, event.

Ids are chosen by devices and users, so they are attacker-controlled: they end up in
Kafka keys, ClickHouse and Delta predicates, file names and URLs. One strict pattern,
checked at every entry (ingest, API paths, the CLI, the jobs), keeps quotes, spaces,
control characters and megabyte-long strings out of all of them, so no later layer has
to escape anything it got from outside. The Avro contracts cannot express a pattern,
which is why it lives here and not in the schemas.

``ID_PATTERN``: 1 to 64 characters of ASCII letters, digits, ``_``, ``-``, ``.`` and
``:``, starting with a letter or digit. UUIDs, ``user-00042`` and ``w:2026-11-30:1``
pass; ``' OR 1=1 --`` and ``O'Brien`` do not.
"""

from __future__ import annotations

import re

ID_MAX_LENGTH = 64
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
_ID = re.compile(ID_PATTERN)


class InvalidIdentifier(ValueError):
    """An id that does not match ``ID_PATTERN``; the message names the field."""


def is_valid_id(value: object) -> bool:
    """True if ``value`` is a string matching ``ID_PATTERN``."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_id(field: str, value: object) -> str:
    """Return ``value`` if it is a valid id, else raise ``InvalidIdentifier`` naming ``field``."""
    if not is_valid_id(value):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else (
            f"a string of {len(value)} characters")
        raise InvalidIdentifier(
            f"{field} {shown} is not a valid id: 1 to {ID_MAX_LENGTH} characters of "
            "letters, digits, '_', '-', '.' or ':', starting with a letter or digit")
    return value
