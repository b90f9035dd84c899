"""One Spark session per test process, for every test marked ``spark``.

The Spark night is analysed by a single test (tests/engines/test_spark_equality.py), so however
the suite's workers share the tests out, one JVM starts. pyspark is part of the test extra: without
it these tests fail, not skip.
"""

from __future__ import annotations

import pytest

from coupongen.engines.spark.session import spark_session

SMALL = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.driver.memory": "1g",
    # Tiny frames: compiling whole stages and re-planning shuffles cost more than they save.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
    # A short-lived JVM on two shared cores: the optimising JIT compiler and parallel GC threads
    # compete with the tests for the cores and never pay back (the Spark test in ~70 s, not ~110 s).
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="session")
def spark():
    session = spark_session("local[2]", SMALL)
    yield session
    session.stop()
