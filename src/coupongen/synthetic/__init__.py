"""Synthetic data: sample histories and simulated redemptions."""
