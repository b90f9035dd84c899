"""What a night returns: typed, frozen figures for the CLI, summary.json and the report.

`RunSummary` is the run's account for people and machines (inputs read and kept, segments, rules,
campaigns, reach, coupons, timings, findings); `RunSummary.to_json` is exactly what summary.json
holds. The frames behind it travel in `coupongen.pipeline.RunResult` for callers that want them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class InputCounts:
    """Rows of one input: read from the files, kept, and sent to quarantine (read = kept + quarantined)."""

    read: int
    kept: int
    quarantined: int


@dataclass(frozen=True)
class QuarantineReason:
    """How many rows of one input were rejected for one reason."""

    input: str
    reason: str
    rows: int


@dataclass(frozen=True)
class RuleFigures:
    """Association rules found tonight: counts and the strongest ones in words."""

    baskets: int
    count: int
    top: tuple[str, ...]
    category_count: int
    category_top: tuple[str, ...]


@dataclass(frozen=True)
class CouponTotals:
    """The night's coupons in the ledger after this run.

    ``total`` counts every coupon of the night, ``issued_this_run`` those this run drew,
    ``already_issued`` those an earlier run of the same night had recorded, ``control`` the
    customers held out, ``by_offer_type`` coupons per offer type, ``unique_codes`` distinct codes.
    """

    total: int
    issued_this_run: int
    already_issued: int
    control: int
    by_offer_type: dict[str, int]
    unique_codes: int


@dataclass(frozen=True)
class RunSummary:
    """A night's figures. ``coupons``, ``run_id`` and ``files`` are set by a real run, not a dry run.

    ``segments``, ``lifecycle``, ``campaigns`` and ``offers_by_channel`` are rows of the frames of the
    same names (see `coupongen.analysis.segments.summarize_segments` and the offer funnel);
    ``reach`` counts customers per channel; ``timings`` holds seconds per stage; ``preflight`` the
    input date range, the money settings resolved against the data and the campaign checks;
    ``version`` is coupongen's; ``input_range`` the first and last day of the kept transactions
    (``first``, ``last``; empty without transactions); ``evaluation`` the latest evaluation of
    earlier nights (see `coupongen.report.evaluation.latest_evaluation`), None when there is none.
    """

    job: str
    as_of: str
    config_hash: str
    currency: str  # ISO 4217: the money of every amount in the summary
    locale: str  # the job's locale, in which customers' messages are written by default
    dry_run: bool
    inputs: dict[str, InputCounts]
    customers_with_purchases: int
    segments: tuple[dict[str, Any], ...]
    lifecycle: tuple[dict[str, Any], ...]
    rules: RuleFigures
    campaigns: tuple[dict[str, Any], ...]
    reach: dict[str, int]
    quarantine_reasons: tuple[QuarantineReason, ...]
    offers_by_channel: tuple[dict[str, Any], ...]
    timings: dict[str, float] = field(default_factory=dict)
    preflight: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    input_range: dict[str, str] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    coupons: CouponTotals | None = None
    run_id: int | None = None
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The summary as plain data, as summary.json holds it (no coupon keys in a dry run)."""
        data = asdict(self)
        for key in ("segments", "lifecycle", "campaigns", "quarantine_reasons", "offers_by_channel"):
            data[key] = list(data[key])
        data["rules"]["top"] = list(self.rules.top)
        data["rules"]["category_top"] = list(self.rules.category_top)
        if self.coupons is None:
            for key in ("coupons", "run_id", "files"):
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSummary:
        """The summary that `to_json` gave ``data`` (KeyError / TypeError when it is not one)."""
        fields = dict(data)
        fields["inputs"] = {name: InputCounts(**c) for name, c in data["inputs"].items()}
        rules = dict(data["rules"])
        rules["top"], rules["category_top"] = tuple(rules["top"]), tuple(rules["category_top"])
        fields["rules"] = RuleFigures(**rules)
        for key in ("segments", "lifecycle", "campaigns", "offers_by_channel"):
            fields[key] = tuple(data[key])
        fields["quarantine_reasons"] = tuple(QuarantineReason(**r) for r in data["quarantine_reasons"])
        if data.get("coupons") is not None:
            fields["coupons"] = CouponTotals(**data["coupons"])
        return cls(**fields)

    def expected_cost(self) -> float:
        """Expected cost of every campaign's coupons, rounded to cents."""
        return round(sum(c.get("expected_cost", 0.0) for c in self.campaigns), 2)
