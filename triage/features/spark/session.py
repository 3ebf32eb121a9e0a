"""One SparkSession per process, local by default, any master (``Settings.spark_master``) for a cluster."""

from __future__ import annotations

import os
import sys
import warnings

from pyspark.sql import SparkSession

#: Small shuffles: the default 200 partitions make every small job slow (STYLE.md).
DEFAULT_SHUFFLE_PARTITIONS = 8


def spark_session(master: str | None = None, *, shuffle_partitions: int = DEFAULT_SHUFFLE_PARTITIONS,
                  driver_memory: str | None = None) -> SparkSession:
    """The process's SparkSession, created on first call (later calls return the same one).

    ``master`` defaults to ``Settings.spark_master`` (``local[*]``).  Python workers run this
    interpreter, so they see the same packages (pandas, scikit-learn, the fitted models).
    ``driver_memory`` (e.g. ``"8g"``) matters in local mode, where the driver does all the work;
    it only applies when the JVM is started by this call.
    """
    if master is None:
        from triage.settings import get_settings

        master = get_settings().spark_master
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # PySpark 4 warns on every pandas conversion under pandas 3; the conversions used here are tested.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    builder = (SparkSession.builder.master(master).appName("triage")
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.executorEnv.PYTHONWARNINGS", "ignore::FutureWarning"))
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
