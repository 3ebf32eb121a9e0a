"""The ``triage`` command line (Typer).  Each command is a thin shell over one module."""

from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from triage.contract import TIMEZONE
from triage.settings import SecretMissing, get_settings

app = typer.Typer(
    help="民转刑 escalation-risk and 绿黄红 tier scoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

QUIET_LIBRARIES = ("great_expectations", "mlflow", "alembic", "py4j", "urllib3")


def _a_folder(dataset: Path) -> Path:
    """A dataset that is not a folder is refused before the command's imports (seconds)."""
    if not dataset.is_dir():
        raise _fail(EXIT_DATASET, f"{dataset} is not a folder")
    return dataset


DatasetDir = Annotated[
    Path,
    typer.Argument(help="Folder with one <table>.csv or .parquet per table.", callback=_a_folder),
]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else get_settings().log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # great-expectations imports PySpark when present, which warns about pandas 3 on import.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support", category=FutureWarning
    )
    for chatty in QUIET_LIBRARIES:  # their INFO lines bury ours
        logging.getLogger(chatty).setLevel(logging.WARNING)


#: Exit codes of the commands that read a dataset, a database or a model and write a file
#: (docs/interfaces.md): each failure is one line on stderr, never a traceback.
EXIT_DATASET, EXIT_DATABASE, EXIT_OUTPUT, EXIT_MODEL, EXIT_CONFIG = 2, 3, 4, 5, 6


def _fail(code: int, message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _one_line_errors():
    """Turn the failures an operator can meet (no dataset, no database, no model) into one line and an
    exit code.  A database error is described without its text, which may repeat the rows written."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from triage.config.domain import DomainFileInvalid
    from triage.data_contracts import DatasetUnreadable
    from triage.db.engine import describe_error

    try:
        yield
    except DomainFileInvalid as exc:
        raise _fail(EXIT_CONFIG, str(exc)) from None
    except DatasetUnreadable as exc:
        raise _fail(EXIT_DATASET, str(exc)) from None
    except DBAPIError as exc:
        raise _fail(EXIT_DATABASE, f"the database failed: {describe_error(exc)}") from None
    except SQLAlchemyError as exc:
        raise _fail(EXIT_DATABASE, f"the database failed: {type(exc).__name__}") from None
    except MlflowException as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(EXIT_MODEL, f"the model registry failed: {first_line}") from None


def _writable(out: Path, *, folder_allowed: bool = False) -> Path:
    """``out`` when a file (or, if allowed, a folder without suffix) can be written there, checked
    before any work; exit 4 otherwise."""
    if folder_allowed and not out.suffix:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fail(
                EXIT_OUTPUT, f"cannot write {out}: {exc.strerror or type(exc).__name__}"
            ) from None
        return out
    if out.suffix not in (".csv", ".parquet"):
        raise _fail(EXIT_OUTPUT, f"--out must end in .csv or .parquet, not {out.suffix!r}")
    existed = out.exists()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "ab"):
            pass
        if not existed:
            out.unlink()
    except OSError as exc:
        raise _fail(
            EXIT_OUTPUT, f"cannot write {out}: {exc.strerror or type(exc).__name__}"
        ) from None
    return out


def _servable(settings) -> None:
    """Refuse, before any work, to serve without a workbench secret (exit 6)."""
    try:
        settings.session_secret()
    except SecretMissing as exc:
        raise _fail(EXIT_CONFIG, str(exc)) from None


def _free_ports(ports: dict[str, int]) -> None:
    """Refuse, before minutes of work, ports that are taken (exit 6): the MLflow UI would fail unseen."""
    from triage.demo import port_in_use

    if len(set(ports.values())) < len(ports):
        raise _fail(EXIT_CONFIG, f"{' and '.join(ports)} must be different ports")
    for option, port in ports.items():
        if port_in_use(port):
            raise _fail(
                EXIT_CONFIG,
                f"port {port} on 127.0.0.1 is already in use (another triage demo or "
                f"service?): stop it, or choose another port with {option}",
            )


def _validated(dataset: Path):
    """The validation result, or exit 2 with a one-line reason when a table is missing or unreadable."""
    from triage.data_contracts import DatasetUnreadable, validate_dataset

    try:
        return validate_dataset(dataset)
    except DatasetUnreadable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to.")],
    households: Annotated[int, typer.Option(min=10)] = 20_000,
    seed: int = 7,
    start: Annotated[str, typer.Option(help="First day simulated (YYYY-MM-DD).")] = "2022-01-01",
    end: Annotated[str, typer.Option(help="Last day simulated (YYYY-MM-DD).")] = "2025-06-30",
    bad_rows: Annotated[
        float,
        typer.Option(
            help="Share of rows made invalid on purpose (listed in _expected/bad_rows.csv)."
        ),
    ] = 0.0,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
) -> None:
    """Write a synthetic city in the exchange format, with its _oracle/ files."""
    from triage.synth import generate_city

    summary = generate_city(
        out,
        households=households,
        seed=seed,
        start=date.fromisoformat(start),
        end=date.fromisoformat(end),
        bad_row_share=bad_rows,
        fmt=fmt,
    )
    typer.echo(json.dumps(summary, ensure_ascii=False))


@app.command()
def validate(
    dataset: DatasetDir,
    out: Annotated[
        Path, typer.Option(help="Folder for validation.json, quarantine/ and the report.")
    ],
) -> None:
    """Check every table against the data contract and quarantine the rows that break it."""
    from triage.data_contracts import write_validation_outputs

    result = _validated(dataset)
    write_validation_outputs(result, out)
    typer.echo(result.one_line_summary())


@app.command()
def load(
    dataset: DatasetDir,
    db: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default: settings).")] = None,
) -> None:
    """Validate a dataset and upsert its valid rows into the service database.

    Rows new to the database re-score the open cases the service follows and plan follow-up visits
    for cases they show mediated, as ``POST /v1/ingest`` does (with the champion models, when promoted).
    Each chunk of rows commits on its own with the re-scores it calls for, so scores are not held up
    for the whole load; a load cut short is finished by running it again.
    """
    from triage.db import migrate
    from triage.decisions.ingest import load_dataset

    result = _validated(dataset)
    settings = get_settings()
    url = db or settings.db_url
    settings.ensure_home()
    with _one_line_errors():
        migrate(url)
        counts, followed = load_dataset(
            settings.model_copy(update={"database_url": url}), result.valid
        )
    typer.echo(
        json.dumps(
            {"validation": result.one_line_summary(), "loaded": counts, **followed},
            ensure_ascii=False,
        )
    )


@app.command()
def train(
    dataset: DatasetDir,
    horizon_days: Annotated[
        Optional[int], typer.Option(help="民转刑 horizon H (default: settings).")
    ] = None,
    promote: Annotated[
        str, typer.Option(help="auto: only through the gates; never; force.")
    ] = "auto",
) -> None:
    """Train both models out of time, log them to MLflow, register and (gated) promote them."""
    from triage.training.pipeline import train as train_models

    if promote not in {"auto", "never", "force"}:
        raise typer.BadParameter("--promote must be auto, never or force")
    summary = train_models(
        dataset, settings=get_settings(), horizon_days=horizon_days, promote=promote
    )
    typer.echo(json.dumps(summary, ensure_ascii=False, default=str))


@app.command()
def evaluate(
    dataset: DatasetDir,
    model: Annotated[str, typer.Option("--model", help="e.g. models:/triage-escalation@champion")],
) -> None:
    """Evaluate a registered model on a dataset (beside the oracle when _oracle/ is present)."""
    from triage.training.pipeline import evaluate as evaluate_model

    typer.echo(
        json.dumps(evaluate_model(dataset, model, settings=get_settings()), ensure_ascii=False)
    )


@app.command()
def features(
    dataset: DatasetDir,
    out: Annotated[
        Path,
        typer.Option(
            help="Feature frame file: .parquet or .csv; with --engine spark, a folder (no suffix) "
            "the executors write Parquet to."
        ),
    ],
    engine: Annotated[
        str, typer.Option(help="pandas, or spark (master: TRIAGE_SPARK_MASTER).")
    ] = "pandas",
) -> None:
    """Write the point-in-time training frame: every valid case as of its opening, with its features.

    Text-score columns stay empty: the text model is fitted by training on its own split.
    """
    from triage.output import write_frame

    if engine not in ("pandas", "spark"):
        raise typer.BadParameter("--engine must be one of pandas, spark")
    folder = engine == "spark" and not out.suffix
    _writable(out, folder_allowed=folder)
    tables = _validated(dataset).valid
    if folder:
        from triage.features.spark import write_training_features

        cases = len(tables["cases"])
        write_training_features(tables, out)
        typer.echo(json.dumps({"cases": cases, "engine": engine, "out": str(out)}))
        return
    if engine == "spark":  # PySpark is an optional extra: imported only when asked for
        from triage.features.spark import spark_training_frame

        frame = spark_training_frame(tables)
    else:
        from triage.features import build_case_features
        from triage.features.points import case_points

        frame = build_case_features(case_points(tables), tables)
    write_frame(frame, out)
    typer.echo(
        json.dumps(
            {"cases": len(frame), "features": frame.shape[1] - 2, "engine": engine, "out": str(out)}
        )
    )


@app.command()
def score(
    dataset: DatasetDir,
    out: Annotated[
        Path,
        typer.Option(
            help="Scores file: .csv or .parquet; with --engine spark, a folder (no suffix) where "
            "the executors write features/ and scores/ (probability and band, no routes)."
        ),
    ],
    as_of: Annotated[
        Optional[str],
        typer.Option(
            help="Score every case as of this moment (ISO 8601) instead of each as of its opening."
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="pandas, or spark (master: TRIAGE_SPARK_MASTER).")
    ] = "pandas",
) -> None:
    """Batch-score every case of a dataset with the champion: probability, band and teams."""
    import pandas as pd

    moment = pd.Timestamp(as_of) if as_of else None
    if moment is not None and moment.tzinfo is None:
        moment = moment.tz_localize(TIMEZONE)
    if engine not in ("pandas", "spark"):
        raise typer.BadParameter("--engine must be pandas or spark")
    out = _writable(out, folder_allowed=engine == "spark")  # before the scoring stack is imported

    from triage.batch_scoring import score_dataset

    with _one_line_errors():
        summary = score_dataset(
            dataset,
            out,
            settings=get_settings(),
            engine=engine,
            as_of=moment.tz_convert("UTC") if moment is not None else None,
        )
    typer.echo(json.dumps(summary, ensure_ascii=False))


@app.command()
def demo(
    households: Annotated[int, typer.Option(min=100)] = 20_000,
    serve: Annotated[bool, typer.Option(help="Start the service at the end.")] = True,
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the service (127.0.0.1).")
    ] = 8000,
    mlflow_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the MLflow UI (127.0.0.1).")
    ] = 5000,
) -> None:
    """The main job on embedded defaults: generate, validate, load, train, promote, serve."""
    if serve:
        _servable(get_settings())
        _free_ports({"--port": port, "--mlflow-port": mlflow_port})
    from triage.demo import run_demo

    run_demo(households=households, serve=serve, port=port, mlflow_port=mlflow_port)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each loads the champions).")
    ] = 1,
) -> None:
    """Run the scoring service under uvicorn (docs at /docs); several workers each take their own share
    of the connections (triage.serving.workers)."""
    settings = get_settings()
    _servable(settings)
    import uvicorn

    from triage.db import migrate
    from triage.serving.workers import APP, run_workers

    settings.ensure_home()
    migrate(settings.db_url)  # once, before the workers start
    if workers > 1:
        raise typer.Exit(run_workers(host, port, workers, settings.log_level.lower()))
    uvicorn.run(
        APP,
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


overrides_app = typer.Typer(
    help="Analysts' reviews and overrides of routes: agreement, alerts, and overrides proved right.",
    no_args_is_help=True,
)
app.add_typer(overrides_app, name="overrides")
EXPORT_FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet"}


@overrides_app.command("export")
def overrides_export(
    out: Annotated[
        Optional[Path], typer.Option(help="File to write (.csv, .json, .parquet); default stdout.")
    ] = None,
    fmt: Annotated[
        Optional[str],
        typer.Option(
            "--format", help="csv or json (default: by --out's suffix; csv on stdout); parquet too."
        ),
    ] = None,
    db: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default: settings).")] = None,
) -> None:
    """Every review with its decision's band and route, its direction (agree, same, raise, lower, mixed)
    and, once the horizon has passed, whether the case escalated and the override proved right; as JSON
    with the summary (agreement by analyst, team, band and month, and the alerts).  No notes, no
    households, no names, ID numbers or phones."""
    import pandas as pd
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    from triage.db.engine import database_exists, engine_for
    from triage.decisions import override_analytics as analytics

    chosen = fmt or (EXPORT_FORMATS.get(out.suffix) if out else "csv")
    if chosen not in EXPORT_FORMATS.values():
        raise _fail(
            EXIT_OUTPUT,
            f"--format must be csv or json, or --out end in {', '.join(EXPORT_FORMATS)}",
        )
    if out is not None and out.suffix != {v: k for k, v in EXPORT_FORMATS.items()}[chosen]:
        raise _fail(EXIT_OUTPUT, f"--out {out.name} does not end in .{chosen}")
    settings = get_settings()
    url = db or settings.db_url
    with _one_line_errors():
        facts, end = [], None
        if database_exists(url) and inspect(engine_for(url)).has_table("reviews"):
            with Session(engine_for(url)) as session:
                facts, end = analytics.read_facts(session, settings.horizon_days)
        limits = settings.domain.override_analytics
        summary = analytics.summarise(
            facts,
            limits,
            datetime.now(timezone.utc),
            horizon_days=settings.horizon_days,
            data_end=end,
        )
    records = analytics.export_rows(facts)
    rows = pd.DataFrame(records, columns=analytics.EXPORT_COLUMNS)
    if chosen == "json":
        text = json.dumps(
            {"summary": summary.model_dump(mode="json"), "reviews": records},
            ensure_ascii=False,
            indent=1,
        )
    else:
        text = rows.to_csv(index=False, lineterminator="\n") if chosen == "csv" else None
    if out is None:
        if text is None:
            raise _fail(EXIT_OUTPUT, "parquet needs --out")
        typer.echo(text, nl=False)
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if text is None:
                rows.to_parquet(out, index=False)
            else:
                out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _fail(
                EXIT_OUTPUT, f"cannot write {out}: {exc.strerror or type(exc).__name__}"
            ) from None
    report = {
        "out": str(out) if out else None,
        "reviews": len(rows),
        "by_direction": rows["direction"].value_counts().to_dict(),
        "alerts": [alert.model_dump(mode="json") for alert in summary.alerts],
    }
    typer.echo(json.dumps(report, ensure_ascii=False), err=out is None)


def _shadow_report(settings, url: str, since: Optional[datetime], challenger: dict | None):
    """The challenger's report over the decisions of ``url`` (an empty one before any is stored)."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    from triage.db.engine import database_exists, engine_for
    from triage.decisions import shadow

    gate = settings.domain.challenger
    if database_exists(url) and inspect(engine_for(url)).has_table("shadow_scores"):
        with Session(engine_for(url)) as session:
            return shadow.shadow_report(session, gate, settings.horizon_days, since, challenger)
    return shadow.summarise([], gate, horizon_days=settings.horizon_days, since=since)


def _since(day: Optional[datetime]) -> Optional[datetime]:
    """A ``--since`` day as its start in Asia/Shanghai."""
    from triage.contract import LOCAL_ZONE

    return day.replace(tzinfo=LOCAL_ZONE) if day else None


def _report_text(report, failures: list[str]) -> str:
    def share(value):
        return "n/a" if value is None else f"{value:.1%}"

    def figure(value):
        return "n/a" if value is None else f"{value:.4f}"

    lines = [
        f"challenger {', '.join(report.challenger_versions) or '(none stored)'} against "
        f"{', '.join(report.champion_versions) or '(none)'}",
        f"cases scored by both: {report.cases}",
        f"band agreement: {share(report.band_agreement)}; "
        f"route agreement: {share(report.route_agreement)}",
        f"cases that would move: {report.moving}",
        *(
            f"  {m.case_id}: {m.champion_band} {'+'.join(m.champion_teams)} "
            f"({m.champion_probability:.3f}) -> {m.challenger_band} "
            f"{'+'.join(m.challenger_teams)} ({m.challenger_probability:.3f})"
            for m in report.movers
        ),
        f"labelled cases: {report.labelled} ({report.escalated} escalated)",
        f"AUC champion {figure(report.champion.auc)}, challenger {figure(report.challenger.auc)}",
        f"ECE champion {figure(report.champion.ece)}, challenger {figure(report.challenger.ece)}",
        "promotion gates: " + ("pass" if not failures else "refuse"),
        *(f"  - {line}" for line in failures),
    ]
    return "\n".join(lines)


SinceOption = Annotated[
    Optional[datetime],
    typer.Option(formats=["%Y-%m-%d"], help="Decisions stored on or after this day only."),
]
DbOption = Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default: settings).")]


@app.command()
def compare(
    since: SinceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """The challenger in shadow against the champions on the same live cases: agreement of bands and
    routes, the cases that would move, and both models' AUC and ECE once labels have arrived."""
    from triage.decisions import shadow
    from triage.models.registry import challenger_versions, configure_mlflow

    settings = get_settings()
    with _one_line_errors():
        versions = challenger_versions(configure_mlflow(settings), settings)
        report = _shadow_report(settings, db or settings.db_url, _since(since), versions or None)
    failures = shadow.gate_failures(report, settings.domain.challenger)
    if as_json:
        typer.echo(
            json.dumps(
                {**report.model_dump(mode="json"), "promotion_refused_because": failures},
                ensure_ascii=False,
            )
        )
    else:
        if not versions:
            typer.echo(
                f"no version has the alias '{settings.challenger_alias}' yet: set it on one trained with "
                "`triage train --promote never`, then reload the service (POST /v1/models/reload)"
            )
        typer.echo(_report_text(report, failures))


@app.command("promote-challenger")
def promote_challenger(
    since: SinceOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote although the gates refuse (audited).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Make the challenger champion when its shadow report passes the gates of ``domain.yaml:
    challenger``; the service picks it up at ``POST /v1/models/reload``."""
    from sqlalchemy.orm import Session

    from triage.db import migrate
    from triage.db.engine import engine_for
    from triage.decisions import audit, shadow
    from triage.models import registry

    settings = get_settings()
    url = db or settings.db_url
    with _one_line_errors():
        client = registry.configure_mlflow(settings)
        versions = registry.challenger_versions(client, settings)
        if not versions:
            raise _fail(EXIT_MODEL, f"no version has the alias '{settings.challenger_alias}'")
        report = _shadow_report(settings, url, _since(since), versions)
        failures = shadow.gate_failures(report, settings.domain.challenger)
        if failures and not force:
            typer.echo(_report_text(report, failures), err=True)
            raise _fail(1, "the challenger's report does not pass the promotion gates")
        promoted = registry.promote_challenger(client, settings)
        migrate(url)
        with Session(engine_for(url)) as session:
            audit.record(
                session,
                "models.promote_challenger",
                None,
                promoted=promoted,
                forced=bool(failures),
                refused_because=failures,
                cases=report.cases,
                labelled=report.labelled,
            )
            session.commit()
    typer.echo(
        json.dumps({"promoted": promoted, "forced": bool(failures), "refused_because": failures})
    )


keys_app = typer.Typer(help="API keys of the scoring service.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="scorer, analyst or admin.")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from triage.decisions.keys import ROLES, create_key, open_key_session

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    with open_key_session(get_settings()) as session:
        row, plain = create_key(session, role, name)
        session.commit()
    typer.echo(f"created {row.role} key {row.id} ({row.name}); it is shown this once:", err=True)
    typer.echo(plain)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (the part after 'trg_').")],
) -> None:
    """Revoke an API key: it is refused from the next request on."""
    from triage.decisions.keys import open_key_session, revoke_key

    with open_key_session(get_settings()) as session:
        row = revoke_key(session, key_id)
        session.commit()
    if row is None:
        typer.echo(f"no API key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {row.id}")


db_app = typer.Typer(help="The service database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("compact")
def db_compact(
    db: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default: settings).")] = None,
) -> None:
    """Give back the room of removed and rewritten rows, with the service stopped (after an
    upgrade that repacks decisions, or after retention); a SQLite database made before 16 KB pages
    takes them now.  Prints the bytes and page size before and after, as JSON."""
    from triage.db.engine import compact, database_exists

    url = db or get_settings().db_url
    if not database_exists(url):
        raise _fail(EXIT_DATABASE, "no database there: nothing to compact")
    with _one_line_errors():
        typer.echo(json.dumps(compact(url)))


retention_app = typer.Typer(
    help="Retention of personal and sensitive data (domain.yaml `retention`).",
    no_args_is_help=True,
)
app.add_typer(retention_app, name="retention")


def _moment(value: str | None):
    """``--as-of`` as a UTC moment (without an offset it means Asia/Shanghai); now when absent."""
    from datetime import datetime, timezone

    from triage.decisions.types import aware

    if value is None:
        return datetime.now(timezone.utc)
    try:
        return aware(datetime.fromisoformat(value)).astimezone(timezone.utc)
    except ValueError:
        raise typer.BadParameter(
            "an ISO 8601 date or time, e.g. 2025-06-01 or 2025-06-01T09:00+08:00",
            param_hint="--as-of",
        ) from None


@retention_app.command("apply")
def retention_apply(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what is past its period; change nothing.")
    ] = False,
    as_of: Annotated[
        Optional[str],
        typer.Option(help="Measure the periods up to this moment (default: now); ISO 8601."),
    ] = None,
    db: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default: settings).")] = None,
) -> None:
    """Mask or remove what is past its retention period, and say what, one line per rule (counts only).

    Each application is written to the audit trail; a dry run changes nothing.
    """
    from triage.decisions.retention import run_retention

    moment = _moment(as_of)
    settings = get_settings()
    with _one_line_errors():
        policy = settings.domain.retention
        outcomes = run_retention(db or settings.db_url, policy, moment, dry_run=dry_run)
    if policy.placeholders:
        typer.echo(
            "warning: the retention periods are the placeholders shipped in domain.yaml; "
            "a centre sets its own (docs/domain.md, Retention)",
            err=True,
        )
    done = "dry run, nothing changed" if dry_run else "applied and audited"
    typer.echo(f"retention as of {moment:%Y-%m-%d %H:%M} UTC: {done}")
    for outcome in outcomes:
        typer.echo(outcome.line(dry_run))


@app.command()
def monitor(
    dataset: DatasetDir,
    out: Annotated[
        Optional[Path], typer.Option(help="Report folder (default: TRIAGE_HOME/monitoring/<time>).")
    ] = None,
) -> None:
    """Drift, outcome and fairness report of a recent dataset against the champion's training data.

    Exit code: 0 ok, 0 warn (the reasons on stderr), 1 alert, 2 no dataset or no champion to compare with.
    """
    from triage.data_contracts import DatasetUnreadable
    from triage.monitoring.monitor import NoChampion, run_monitor

    try:
        summary = run_monitor(dataset, settings=get_settings(), out=out)
    except (DatasetUnreadable, NoChampion) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for reason in summary["reasons"]:
        typer.echo(f"{reason['level']}: {reason['message']}", err=True)
    typer.echo(
        json.dumps(
            {k: summary[k] for k in ("status", "reasons", "champion", "run_id", "window")},
            ensure_ascii=False,
            default=str,
        )
    )
    if summary["status"] == "alert":
        raise typer.Exit(1)


@app.command()
def retrain(
    dataset: DatasetDir,
    service_url: Annotated[
        Optional[str],
        typer.Option(
            help="A running service to reload after a promotion, e.g. http://127.0.0.1:8000."
        ),
    ] = None,
    admin_key: Annotated[
        Optional[str],
        typer.Option(envvar="TRIAGE_ADMIN_API_KEY", help="Admin API key for the reload."),
    ] = None,
) -> None:
    """Train on the latest export; promote only a model better than the champion and fair; reload the service."""
    from triage.training.retrain import retrain as retrain_models

    summary = retrain_models(
        dataset, settings=get_settings(), service_url=service_url, admin_key=admin_key
    )
    typer.echo(json.dumps(summary, ensure_ascii=False, default=str))


if __name__ == "__main__":  # pragma: no cover
    app()
