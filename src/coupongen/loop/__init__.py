"""Closing the loop: redemptions, evaluation against the holdout, backtests."""
