"""coupongen: targeted coupon generation for retail CRM teams.

Reads purchase histories, finds segments and product affinities, decides which customer gets which
offer, issues unique coupon codes recorded in a ledger and exports them for the delivery channels.
"""

from __future__ import annotations

__version__ = "0.1.0"
