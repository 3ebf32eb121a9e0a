"""Model figures on both generators: the backtest, the refit, and the months after an export.

    .venv/bin/python bench/bench_models.py                       # 20,000 households each
    .venv/bin/python bench/bench_models.py --households 8000 --export-end 2024-02-29

For each generator (`triage generate` and the independent second writer of tests/support/), a city
of 2022-01 .. 2025-06 is written; training sees its export up to ``--export-end`` (26 months by
default) and is judged on the ten months after it, beside a plain pipeline (the floor) and the
generator's own probability (the ceiling).  Prints the machine and every figure as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from machine import describe  # noqa: E402
from tests.support.second_city import write_second_city  # noqa: E402
from tests.support.unseen import judge_unseen_months  # noqa: E402
from triage.synth import generate_city  # noqa: E402

WRITERS = {"triage generate": generate_city, "second writer": write_second_city}


def rounded(value, digits: int = 4):
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return round(value, digits) if isinstance(value, float) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--export-end", default="2024-02-29")
    args = parser.parse_args()
    print(json.dumps({"machine": describe()}))
    for name, write in WRITERS.items():
        with tempfile.TemporaryDirectory() as tmp:
            city = Path(tmp) / "city"
            write(
                city,
                households=args.households,
                seed=args.seed,
                start=date(2022, 1, 1),
                end=date(2025, 6, 30),
            )
            began = time.perf_counter()
            figures = judge_unseen_months(city, export_end=args.export_end)
            print(
                json.dumps(
                    rounded(
                        {
                            "generator": name,
                            "households": args.households,
                            "seed": args.seed,
                            "export_end": args.export_end,
                            "seconds": time.perf_counter() - began,
                            **figures,
                        }
                    ),
                    ensure_ascii=False,
                )
            )


if __name__ == "__main__":
    main()
