"""The rollout engine: one place that plans per-site work, delivers, waits, verifies, reverts exactly
the commits it is told to, waits for the restore, and assembles evidence. Every DAG uses it."""
