"""Which groups a case belongs to, for fairness audits only (never model features).

A case is opened for a household.  Its *area type* and *district* are the household's; its *sex*
and *ethnicity* are those of the household's first-registered member, i.e. the member with the
smallest ``person_id`` (the registry numbers members in registration order, so this is the person
the household was registered under).  An ethnicity the registry left empty is its own group,
``unrecorded``, rather than being dropped: who goes unrecorded is itself worth auditing.
"""

from __future__ import annotations

import pandas as pd

#: The attributes audited, in report order.
ATTRIBUTES = ("ethnicity", "sex", "area_type", "district")
UNRECORDED = "unrecorded"


def case_groups(points: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per row of ``points`` (needs ``household_id``): the case's group on each attribute."""
    households = tables["households"][["household_id", "area_type", "district"]]
    persons = tables["persons"][["person_id", "household_id", "sex", "ethnicity"]]
    first = persons.sort_values(["household_id", "person_id"], kind="stable").drop_duplicates(
        "household_id"
    )[["household_id", "sex", "ethnicity"]]
    groups = (
        points[["household_id"]]
        .astype({"household_id": "str"})
        .merge(households.astype({"household_id": "str"}), on="household_id", how="left")
        .merge(first.astype({"household_id": "str"}), on="household_id", how="left")
    )
    out = pd.DataFrame(index=points.index)
    for attribute in ATTRIBUTES:
        out[attribute] = (
            groups[attribute]
            .astype("object")
            .where(groups[attribute].notna(), UNRECORDED)
            .astype(str)
            .to_numpy()
        )
    return out
