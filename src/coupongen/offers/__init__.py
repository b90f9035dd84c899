"""Campaigns turned into offers: eligibility, guards, budgets, holdout; the preview of a night."""
