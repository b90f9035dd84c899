"""What the analysis found, saved for analysts: segments, regular products, rules, and their charts.

Owner-only where a file carries card numbers; each file is written aside and renamed into place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from coupongen.analysis import segments
from coupongen.delivery.publish import write_atomic
from coupongen.safecsv import parquet_writer, write_csv

if TYPE_CHECKING:
    from coupongen.analysis.night import Analysis


def write_analysis(analysis: Analysis, run_dir: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    """Save what the analysis found in ``run_dir/analysis`` for analysts; returns the paths by name.

    Part "customers": segments.parquet and .csv (one row per customer with purchases; contact
    details left out, card numbers kept, so owner-only), regular_products.parquet (each product a
    customer buys regularly, with its purchase cycle and days since last bought; owner-only),
    segment_summary and lifecycle_summary (.parquet, .csv) and segments.png. Part "baskets": rules
    and category_rules (.parquet, .csv with item names) and rules.png, category_rules.png. Each file
    is written aside and renamed into place, so a reader never sees half a file; a part not computed
    leaves its files alone.
    Returns the paths written, by file name, and the charts drawn, by name (segments, rules), so
    that the report inlines the same images instead of drawing them again.
    """
    from coupongen.report import charts  # matplotlib takes a while to import; only writing needs it

    folder = run_dir / "analysis"
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    drawn: dict[str, bytes] = {}

    def put(name: str, write: Callable[[Path], object], *, private: bool = False) -> None:
        write_atomic(folder / name, write, private=private)
        written[name] = str(folder / name)

    def put_csv(name: str, frame: pl.DataFrame, *, private: bool = False) -> None:
        put(name, lambda path: write_csv(frame, path), private=private)

    def put_frame(stem: str, frame: pl.DataFrame, *, private: bool = False) -> None:
        put(f"{stem}.parquet", parquet_writer(frame), private=private)
        put_csv(
            f"{stem}.csv", frame.with_columns(pl.col(pl.List(pl.String)).list.join(" | ")), private=private
        )

    def put_png(name: str, png: bytes) -> None:
        put(name, lambda path: path.write_bytes(png))
        drawn[name.removesuffix(".png")] = png

    day = f" as of {analysis.as_of.isoformat()}" if analysis.as_of else ""
    if "customers" in analysis.parts:
        private_columns = ("email", "phone", "first_name", "birth_date")
        seg = analysis.segmented.select(pl.exclude(*private_columns))
        put_frame("segments", seg, private=True)
        regular = analysis.bought.filter(pl.col("regular")).drop("regular")
        put("regular_products.parquet", parquet_writer(regular), private=True)
        summary = segments.summarize_segments(seg)
        put_frame("segment_summary", summary)
        put_frame("lifecycle_summary", segments.summarize_segments(seg, by="lifecycle"))
        put_png("segments.png", charts.plot_segments(summary, title=f"Segments{day}: customers and spend"))
    if "baskets" in analysis.parts:
        names = dict(zip(analysis.products["sku"], analysis.products["name"], strict=True))
        for stem, rules, level in (
            ("rules", analysis.rules, "products"),
            ("category_rules", analysis.category_rules, "categories"),
        ):
            put(f"{stem}.parquet", parquet_writer(rules))
            named = rules.with_columns(
                *(
                    pl.col(side)
                    .list.eval(pl.element().replace(names))
                    .list.join(" + ")
                    .alias(f"{side}_names")
                    for side in ("antecedent", "consequent")
                )
            ).with_columns(pl.col("antecedent", "consequent").list.join(" + "))
            put_csv(f"{stem}.csv", named)
            title = f"Rules between {level}{day} ({rules.height:,} rules, {analysis.n_baskets:,} baskets)"
            put_png(f"{stem}.png", charts.plot_rules(rules, names=names, title=title))
    return written, drawn
