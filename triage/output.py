"""Writing a result frame (features, scores) where the user asked: ``.parquet`` or ``.csv`` by extension."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_frame(frame: pd.DataFrame, out: Path) -> Path:
    """Parquet keeps the types; CSV writes ``as_of`` as ISO 8601 with its offset (docs/data-format.md "Types")."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        as_of = pd.to_datetime(frame["as_of"], utc=True).map(lambda t: t.isoformat())
        frame.assign(as_of=as_of).to_csv(out, index=False)
    else:
        raise ValueError(f"--out must end in .csv or .parquet, not {out.suffix!r}")
    return out
