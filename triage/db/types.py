"""Column types shared by every table of the service database."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone

import numpy as np
from pydantic_core import to_json
from sqlalchemy import DateTime, LargeBinary, String, Text
from sqlalchemy.types import TypeDecorator

#: Contract ids are at most 64 characters (docs/data-format.md "Types").
Id = String(64)
#: Enum codes are short lower-case words; the validator checks the allowed values.
Code = String(32)
#: Free text of at most 4,000 characters.
FreeText = Text()


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back in UTC, on SQLite as on PostgreSQL.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so values are stored converted to
    UTC and given ``tzinfo=UTC`` again when read.  Naive datetimes are refused rather than
    guessed at: the exchange format's "no offset means Asia/Shanghai" rule belongs to the
    validator, and a service-side ``datetime.utcnow()`` is a bug worth hearing about.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give it a timezone (UTC)")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class PackedJSON(TypeDecorator[dict]):
    """A JSON document that may hold binary arrays, stored compressed: for records that are only
    read back whole (a stored decision), not queried inside.

    The JSON text (each numpy array or memoryview replaced by ``{"$bytes": length}``) and, after a
    NUL, the arrays' raw bytes in the order they appear, compressed with zlib; they come back as
    ``bytes``.  A decision's SHAP contributions are kept as raw float32 this way (base64 would add a
    third and compress worse); the whole record takes about half the room of its JSON.  The text is
    written by pydantic-core (a sixth of ``json.dumps``'s time), which never leaves a raw NUL in it.
    ``bytes`` values are not accepted as binary (pydantic-core would write them as text), and a
    document may not hold an object whose only key is ``$bytes``.
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: dict | None, dialect) -> bytes | None:
        if value is None:
            return None
        parts: list[memoryview] = []

        def set_aside(obj):
            if not isinstance(obj, (np.ndarray, memoryview)):
                raise TypeError(f"{type(obj).__name__} is not JSON")
            parts.append(memoryview(obj).cast("B"))
            return {"$bytes": parts[-1].nbytes}

        text = to_json(value, fallback=set_aside)
        return zlib.compress(b"\0".join([text, b"".join(parts)]), 9)

    def process_result_value(self, value: bytes | None, dialect) -> dict | None:
        if value is None:
            return None
        text, _, tail = zlib.decompress(value).partition(b"\0")
        start = 0

        def restore(obj: dict):
            nonlocal start
            if obj.keys() == {"$bytes"}:
                start += obj["$bytes"]
                return tail[start - obj["$bytes"] : start]
            return obj

        return json.loads(text, object_hook=restore)
