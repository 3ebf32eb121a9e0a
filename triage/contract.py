"""The exchange format of ``docs/data-format.md`` written down once, as data.

Every loader, data contract, database model and the synthetic city read these
specifications instead of repeating column lists.  Nothing here validates: the
rules are *described* here and *enforced* in :mod:`triage.data_contracts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

ColumnType = Literal["id", "timestamp", "bool", "int", "decimal", "enum", "text"]

DISPUTE_TYPES = (
    "marriage_family",
    "neighbor",
    "wage_arrears",
    "property_management",
    "land_transfer",
    "medical",
    "traffic_accident",
    "construction",
    "commercial",
    "other",
)
CASE_SOURCES = (
    "grid_patrol",
    "hotline",
    "walk_in",
    "police_referral",
    "court_referral",
    "other_agency",
)
CASE_STATUSES = ("open", "mediated", "failed", "referred", "withdrawn")
CHANNELS = ("12345", "110", "12338", "12348", "grid_report")
CALL_CATEGORIES = DISPUTE_TYPES + ("public_order",)
MEDIATION_LEVELS = ("village", "township", "county", "court")
MEDIATION_OUTCOMES = ("agreement", "no_agreement", "party_absent", "referred")
INSTRUMENTS = ("phq9", "gad7")
#: 绿黄红, lowest first.
TIERS = ("green", "yellow", "red")
Tier = Literal[TIERS]  # type: ignore[valid-type]
#: Escalation bands, lowest first (the share of cases at or above each is in ``domain.yaml``).
BANDS = ("low", "medium", "high", "critical")
Band = Literal[BANDS]  # type: ignore[valid-type]
OFFENCES = (
    "threat",
    "assault",
    "intentional_injury",
    "attempted_homicide",
    "homicide",
    "arson",
    "property_damage",
    "other",
)
#: Offences that make a civil dispute a criminal one (民转刑), per docs/data-format.md "The labels".
ESCALATION_OFFENCES = ("assault", "intentional_injury", "attempted_homicide", "homicide", "arson")
EMPLOYMENT = ("employed", "unemployed", "migrant_worker", "farmer", "student", "retired", "other")

MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 4000
TIMEZONE = "Asia/Shanghai"
#: The centres' local time: a moment without an offset is in it, and days are counted in it.
LOCAL_ZONE = ZoneInfo(TIMEZONE)
#: The years a timestamp may fall in: pandas' nanosecond timestamps end in 1677 and 2262, and a
#: stored event must stay a moment that a case can be scored as of.
FIRST_YEAR, LAST_YEAR = 1900, 2200


@dataclass(frozen=True)
class Column:
    """One column of an exchange table and the rules docs/data-format.md gives it."""

    name: str
    type: ColumnType
    nullable: bool = False
    values: tuple[str, ...] = ()  # allowed codes of an enum
    min: float | None = None  # inclusive bounds of an int/decimal
    max: float | None = None  # ``"current_year"`` handled by the validator
    unique: bool = False
    references: str | None = None  # "table.column" that must hold the value
    pii: bool = False  # never leaves the person table
    audit_only: bool = False  # fairness audits only, never a feature
    max_is_current_year: bool = False


@dataclass(frozen=True)
class Table:
    """One exchange table: its columns, key and the column that says *when* a row is known."""

    name: str
    columns: tuple[Column, ...]
    key: str
    time_column: str | None
    #: Pairwise time rules ``(later, earlier)`` within a row: later ≥ earlier when both present.
    ordered: tuple[tuple[str, str], ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]


def _id(name: str, **kw) -> Column:
    return Column(name, "id", **kw)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "households",
            (
                _id("household_id", unique=True),
                Column("district", "text"),
                Column("street", "text"),
                _id("grid_id"),
                Column("area_type", "enum", values=("urban", "rural")),
                Column("size", "int", min=1, max=30),
                Column("low_income", "bool"),
                Column("registered_at", "timestamp"),
            ),
            key="household_id",
            time_column="registered_at",
        ),
        Table(
            "persons",
            (
                _id("person_id", unique=True),
                _id("household_id", references="households.household_id"),
                Column("sex", "enum", values=("female", "male")),
                Column("birth_year", "int", min=1900, max_is_current_year=True),
                Column("employment", "enum", nullable=True, values=EMPLOYMENT),
                Column("returned_migrant", "bool", nullable=True),
                Column("alcohol_problem", "bool", nullable=True),
                Column("prior_conviction", "bool", nullable=True),
                Column("mental_health_registry", "bool", nullable=True),
                Column(
                    "ethnicity", "enum", nullable=True, values=("han", "minority"), audit_only=True
                ),
                Column("name", "text", nullable=True, pii=True),
                Column("id_number", "text", nullable=True, pii=True),
                Column("phone", "text", nullable=True, pii=True),
            ),
            key="person_id",
            time_column=None,
        ),
        Table(
            "hotline_calls",
            (
                _id("call_id", unique=True),
                Column("received_at", "timestamp"),
                Column("channel", "enum", values=CHANNELS),
                _id("household_id", nullable=True, references="households.household_id"),
                _id("person_id", nullable=True, references="persons.person_id"),
                Column("category", "enum", values=CALL_CATEGORIES),
                Column("text", "text", nullable=True),
            ),
            key="call_id",
            time_column="received_at",
        ),
        Table(
            "cases",
            (
                _id("case_id", unique=True),
                Column("opened_at", "timestamp"),
                _id("household_id", references="households.household_id"),
                _id(
                    "counterparty_household_id", nullable=True, references="households.household_id"
                ),
                Column("dispute_type", "enum", values=DISPUTE_TYPES),
                Column("source", "enum", values=CASE_SOURCES),
                Column("amount_cny", "decimal", nullable=True, min=0),
                Column("parties_count", "int", min=2, max=10000),
                Column("description", "text", nullable=True),
                Column("status", "enum", values=CASE_STATUSES),
                Column("closed_at", "timestamp", nullable=True),
            ),
            key="case_id",
            time_column="opened_at",
            ordered=(("closed_at", "opened_at"),),
        ),
        Table(
            "mediation_events",
            (
                _id("event_id", unique=True),
                _id("case_id", references="cases.case_id"),
                Column("at", "timestamp"),
                Column("level", "enum", values=MEDIATION_LEVELS),
                Column("outcome", "enum", values=MEDIATION_OUTCOMES),
                Column("note", "text", nullable=True),
            ),
            key="event_id",
            time_column="at",
        ),
        Table(
            "screenings",
            (
                _id("screening_id", unique=True),
                _id("person_id", references="persons.person_id"),
                Column("at", "timestamp"),
                Column("instrument", "enum", values=INSTRUMENTS),
                Column("score", "int", min=0, max=27),
                Column("item9", "int", nullable=True, min=0, max=3),
            ),
            key="screening_id",
            time_column="at",
        ),
        Table(
            "psych_assessments",
            (
                _id("assessment_id", unique=True),
                _id("person_id", references="persons.person_id"),
                Column("at", "timestamp"),
                Column("tier", "enum", values=TIERS),
            ),
            key="assessment_id",
            time_column="at",
        ),
        Table(
            "incidents",
            (
                _id("incident_id", unique=True),
                Column("occurred_at", "timestamp"),
                _id("household_id", references="households.household_id"),
                _id("person_id", nullable=True, references="persons.person_id"),
                Column("offence", "enum", values=OFFENCES),
                _id("case_id", nullable=True, references="cases.case_id"),
            ),
            key="incident_id",
            time_column="occurred_at",
        ),
    )
}

#: Load order that satisfies every reference.
TABLE_ORDER = (
    "households",
    "persons",
    "hotline_calls",
    "cases",
    "mediation_events",
    "screenings",
    "psych_assessments",
    "incidents",
)

#: Score ceilings per instrument (docs/data-format.md "The tables": phq9 0..27, gad7 0..21).
INSTRUMENT_MAX_SCORE = {"phq9": 27, "gad7": 21}

PII_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns if c.pii)
AUDIT_ONLY_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns if c.audit_only)

#: The pandas dtype of each contract type in a *typed* frame, the shape every stage after
#: validation (database loader, features, training, scoring) receives:
#: ids, enums and text are strings (``<NA>`` for null), timestamps are tz-aware UTC,
#: booleans and ints are nullable so that "never recorded" stays missing, not False/0.
TYPED_DTYPES: dict[str, str] = {
    "id": "string",
    "enum": "string",
    "text": "string",
    "timestamp": "datetime64[ns, UTC]",
    "bool": "boolean",
    "int": "Int64",
    "decimal": "Float64",
}


def empty_typed_frame(table: str):
    """An empty typed frame of ``table``; stages use it when a dataset lacks rows."""
    import pandas as pd

    spec = TABLES[table]
    return pd.DataFrame({c.name: pd.Series(dtype=TYPED_DTYPES[c.type]) for c in spec.columns})


#: The names of the rules a quarantined row can break, in precedence order: a row that breaks
#: several is quarantined once, under the first, with every broken rule in ``detail``.
#: The validator, the generator's bad-row injection and the HTTP ingest all use these names.
#: Rules only rows sent as JSON can break (a file read as UTF-8 cannot hold a lone surrogate): the
#: HTTP ingest applies them before validation.
INGEST_RULES = ("bad_text",)
RULES: dict[str, str] = {
    "missing_required": "a column that may not be null is empty",
    "bad_id": "an id is longer than 64 characters or has surrounding whitespace",
    "bad_text": "a value holds a lone surrogate, which has no UTF-8 form (possible only in a JSON ingest)",
    "bad_timestamp": "a timestamp is not ISO 8601, or falls outside the years 1900..2200",
    "bad_bool": "a boolean is not true/false/1/0",
    "bad_int": "an integer is not plain decimal digits",
    "bad_decimal": "a decimal is not a plain decimal number",
    "bad_enum": "a value is not one of the listed codes",
    "out_of_range": "a number is outside its allowed range",
    "text_too_long": "a text is longer than 4,000 characters",
    "inconsistent": "columns of one row contradict each other (e.g. item9 on a GAD-7, "
    "a counterparty equal to the household)",
    "time_order": "a time is before the time it must follow (closed_at < opened_at, "
    "a mediation event before its case was opened)",
    "duplicate_id": "the id was already used by an earlier row (the first is kept)",
    "unknown_reference": "an id refers to no valid row of the referenced table",
}
