"""Column types shared by every table of the service database."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, String, Text
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
