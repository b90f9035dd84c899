"""The holdout flag on Spark: the keyed hash of `offers.guards.in_holdout`, run in Spark tasks.

A campaign's holdout is the share of its candidates whose keyed BLAKE2b hash of the campaign's
salt and the customer id falls below the holdout share. The flag depends on nothing else (not on
the partition, the order or the other rows), so Spark tasks can draw it anywhere: each task hands
its rows to Python as Arrow batches (``mapInArrow``) and calls the very function the driver's
planning calls, so the groups are the same, bit for bit. Only the flag is drawn here; the budget
cut and the coupon codes stay on the driver.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

HELD = "held"


def _draw(batches: Iterator[pa.RecordBatch], draws: dict[str, tuple[str, float]]) -> Iterator[pa.RecordBatch]:
    """Each batch with ``held`` added: `in_holdout` per campaign over the batch's customer ids."""
    import polars as pl
    import pyarrow as pa

    from coupongen.offers.guards import in_holdout

    for batch in batches:
        frame = pl.from_arrow(pa.Table.from_batches([batch]))
        assert isinstance(frame, pl.DataFrame)
        held = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
        for campaign, (salt, share) in draws.items():
            rows = ((frame["campaign"] == campaign) & frame["customer_id"].is_not_null()).arg_true()
            if rows.len():
                drawn = in_holdout(frame["customer_id"].gather(rows), salt=salt, share=share)
                held = held.scatter(rows, drawn)
        yield batch.append_column(HELD, pa.array(held.to_arrow(), type=pa.bool_()))


def with_holdout(frame: DataFrame, draws: Mapping[str, tuple[str, float]]) -> DataFrame:
    """``frame`` (campaign, customer_id, ...) with a boolean ``held`` column: true for the rows
    whose customer falls in the holdout of their campaign. ``draws`` maps each campaign to its
    (salt, share) as the planning uses them (salt ``"<campaign>:<seed>"``); a campaign it does not
    name holds nobody out. A null customer id is never held out.
    """
    from pyspark.sql import types as T

    schema = T.StructType([*frame.schema.fields, T.StructField(HELD, T.BooleanType(), False)])
    wanted = dict(draws)
    return frame.mapInArrow(lambda batches: _draw(batches, wanted), schema)
