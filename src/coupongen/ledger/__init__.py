"""The coupon ledger: the only module that speaks SQL."""
