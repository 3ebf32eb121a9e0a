"""One SparkSession per process, local by default, any master (``Settings.spark_master``) for a cluster."""

from __future__ import annotations

import os
import sys
import warnings

from pyspark.sql import SparkSession


def spark_session(
    master: str | None = None,
    *,
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """The process's SparkSession, created on first call (later calls return the same one).

    Every argument defaults to its ``TRIAGE_SPARK_*`` setting: ``master`` (``local[*]``),
    ``shuffle_partitions`` (8: Spark's default 200 makes every small job slow, docs/design.md
    "Conventions") and
    ``driver_memory`` (the JVM heap; in local mode the driver does all the work, so it bounds the
    memory of the whole run; it only applies when the JVM is started by this call).  On a cluster
    each executor gets ``TRIAGE_SPARK_EXECUTOR_MEMORY``.  Python workers run this interpreter
    (its path must exist on every node), so they see the same packages (pandas, scikit-learn, the
    models).  ``conf``: further Spark settings (the cluster bench's event log, for one).
    """
    from triage.settings import get_settings

    settings = get_settings()
    master = master or settings.spark_master
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # PySpark 4 warns on every pandas conversion under pandas 3; the conversions used here are tested.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    builder = (
        SparkSession.builder.master(master)
        .appName("triage")
        .config("spark.driver.memory", driver_memory or settings.spark_driver_memory)
        .config("spark.executor.memory", settings.spark_executor_memory)
        .config(
            "spark.sql.shuffle.partitions",
            str(shuffle_partitions or settings.spark_shuffle_partitions),
        )
        .config("spark.sql.session.timeZone", "UTC")
        # Parquet written by the executors carries standard UTC microseconds, not legacy INT96.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.executorEnv.PYTHONWARNINGS", "ignore::FutureWarning")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
