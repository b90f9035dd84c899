"""The Spark session a night runs on: its master, its settings, and clear errors when it can't start.

pyspark is an optional extra (``pip install 'coupongen[spark]'``) and needs Java 17 or later on
the driver; both are checked here, once, with a one-line message naming what is missing.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from coupongen.errors import ConfigError, CoupongenError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
MASTER_ENV = "SPARK_MASTER"

# Settings every coupongen session gets. Timestamps travel as integers and dates as dates, so the
# session time zone changes nothing, but UTC makes any stray conversion visible. Spark's own
# _SUCCESS marker is off: a stage writes its key.json first and its marker last itself.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.ui.showConsoleProgress": "false",
}


_LOCAL = re.compile(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?")


def local_threads(master: str) -> int | None:
    """The worker threads of a ``local``, ``local[N]``, ``local[*]`` or ``local[N,F]`` master;
    None for a cluster master.
    """
    found = _LOCAL.fullmatch(master.strip())
    if found is None:
        return None
    threads = found.group(1)
    if threads is None:
        return 1
    return max(os.cpu_count() or 1, 1) if threads == "*" else max(int(threads), 1)


def local_conf(master: str) -> dict[str, str]:
    """Settings for a local master: as many shuffle partitions as worker threads, not Spark's 200.

    Spark's default of 200 partitions per shuffle is sized for a cluster; on one machine every
    shuffle of a night then runs 200 tiny tasks, which made a night of 95,000 lines take longer
    than 20 minutes on two loaded cores. A cluster master keeps its own settings.
    """
    threads = local_threads(master)
    if threads is None:
        return {}
    return {"spark.sql.shuffle.partitions": str(threads), "spark.default.parallelism": str(threads)}


class EngineError(CoupongenError):
    """The Spark engine could not start or run (no Java, the cluster refused the application)."""

    exit_code = 1


def spark_master(configured: str | None) -> str:
    """The master to use: the job's ``[spark] master``, else SPARK_MASTER, else local[*]."""
    if configured:
        return configured
    return os.environ.get(MASTER_ENV, "").strip() or DEFAULT_MASTER


def submitted() -> bool:
    """True when spark-submit started this process (its JVM is up and holds spark-submit's settings)."""
    return bool(os.environ.get("PYSPARK_GATEWAY_PORT"))


def spark_session(master: str, conf: dict[str, str] | None = None) -> SparkSession:
    """The process's Spark session on ``master`` (an already running one is reused as it is).

    Under spark-submit, when neither the job nor SPARK_MASTER named a master (``master`` is the
    default), spark-submit's ``--master`` and ``--conf`` settings apply as given.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "engine 'spark' needs pyspark: install coupongen with the spark extra "
            "(pip install 'coupongen[spark]')"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if local_threads(master) is not None and not submitted():
        # Python tasks (the holdout's Arrow UDF) run in this process's interpreter, which has
        # coupongen and its libraries, not in whatever ``python3`` comes first on the PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("coupongen")
    settings = SESSION_CONF | (conf or {})
    if not (submitted() and master == DEFAULT_MASTER):
        builder = builder.master(master)
        settings = SESSION_CONF | local_conf(master) | (conf or {})
        if local_threads(master) is not None:
            # Python workers on this machine run this interpreter, the one coupongen is installed
            # in (PATH's python3 may lack it), unless PYSPARK_PYTHON names another.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as e:  # Java missing or a master that refuses: say so in one line
        first = " ".join(str(e).split())[:200]
        raise EngineError(f"Spark could not start on master {master!r}: {first}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session
