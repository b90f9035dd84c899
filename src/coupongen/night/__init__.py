"""Nights that cost what they must: the night's key, checkpointed stage outputs, finished nights.

A night's outputs depend on its inputs, its settings and coupongen's version. `fingerprint` turns
them into a key; `checkpoints` keeps the expensive stages' outputs under that key so that a failed
night resumes instead of recomputing; `finished` recognises a night that completed, so that a rerun
with the same key has nothing to do. The ledger stays the one record of what was issued.
"""
