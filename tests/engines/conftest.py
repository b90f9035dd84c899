"""One Spark session per test process, for every test marked ``spark``.

Spark tests share the xdist group "spark", so that with ``--dist loadgroup`` one worker runs them
all and one JVM starts. pyspark is part of the test extra: without it these tests fail, not skip.
"""

from __future__ import annotations

import pytest

from coupongen.engines.spark.session import spark_session

SMALL = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
    # Tiny frames: compiling whole stages and re-planning shuffles cost more than they save.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
}


@pytest.fixture(scope="session")
def spark():
    session = spark_session("local[2]", SMALL)
    yield session
    session.stop()
