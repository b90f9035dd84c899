"""Coupon codes: generation, check characters, GS1 payloads, signing and verification."""
