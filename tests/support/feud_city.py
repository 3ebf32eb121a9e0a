"""A hand-built feud between two households, for the features that read a dispute's history
between the same two households, its calls' trend and how fast earlier cases climbed."""

from __future__ import annotations

import pandas as pd

from tests.factories import City

#: The case the answers are worked out for, and its opening (Asia/Shanghai).
FEUD_CASE, FEUD_OPENED = "C4", "2024-03-01T10:00"


def feud_city() -> City:
    """H1 against H2 for the fourth time; H1 also quarrelled with H3; H4 has no counterparty.

    As of C4's opening (2024-03-01 10:00):

    - between H1 and H2: C1 (H1 the applicant, 2023-01-10: failed at village, failed at township
      20 days after opening) and C2 (H2 the applicant, 2023-09-01: agreement at village, failed at
      county 30 days after opening); only C2 lies in the last 365 days; 3 failed mediations.
    - H1's fastest climb above the village is C3's (township 5 days after opening, against H3);
      H2's is C1's (20 days).  C4's own township mediation a day after opening never counts.
    - H1's calls: 3 in the last 30 days, 3 in the 90 before (one exactly 30 days before), one at
      exactly 120 days and one at 200 (outside both); H2's: one 100 days before (a grid report),
      one 200 days before (12338); H3 none.
    """
    city = City().household("H1").household("H2").household("H3").household("H4")
    for days_before in (1, 10, 29, 30, 60, 119, 120, 200):
        city.call("H1", _days_before(days_before), channel="12345")
    city.call("H2", _days_before(100), channel="grid_report")
    city.call("H2", _days_before(200), channel="12338")
    return (
        city.case("C1", "H1", "2023-01-10T10:00", counterparty="H2")
        .mediation("C1", "2023-01-15T10:00", level="village", outcome="no_agreement")
        .mediation("C1", "2023-01-30T10:00", level="township", outcome="party_absent")
        .case("C2", "H2", "2023-09-01T10:00", counterparty="H1")
        .mediation("C2", "2023-09-05T10:00", level="village", outcome="agreement")
        .mediation("C2", "2023-10-01T10:00", level="county", outcome="no_agreement")
        .case("C3", "H1", "2023-12-01T10:00", counterparty="H3")
        .mediation("C3", "2023-12-06T10:00", level="township", outcome="agreement")
        .case(FEUD_CASE, "H1", FEUD_OPENED, counterparty="H2")
        .mediation(FEUD_CASE, "2024-03-02T10:00", level="township", outcome="no_agreement")
        .case("C5", "H4", "2024-03-01T10:00")
    )


def _days_before(days: int) -> str:
    return (pd.Timestamp(FEUD_OPENED) - pd.Timedelta(days=days)).isoformat()
