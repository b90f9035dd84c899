"""coupongen: targeted coupon generation for retail CRM teams.

Reads purchase histories, finds segments and product affinities, decides which customer gets which
offer, issues unique coupon codes recorded in a ledger and exports them for the delivery channels.

Running a night from Python::

    from datetime import date
    import coupongen

    job = coupongen.load_job("jobs/nightly.toml")
    settings = coupongen.resolve_settings(job, as_of=date(2026, 11, 22))
    result = coupongen.run_job(job, settings)  # result.summary: a RunSummary
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it; imported on first use, so that `import coupongen` stays cheap
_API = {
    "load_job": "coupongen.config",
    "Job": "coupongen.config",
    "Settings": "coupongen.settings",
    "resolve_settings": "coupongen.settings",
    "run_job": "coupongen.pipeline",
    "run_analysis": "coupongen.pipeline",
    "RunResult": "coupongen.pipeline",
    "RunSummary": "coupongen.results",
    "CoupongenError": "coupongen.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'coupongen' has no attribute {name!r}")
