"""Rollback evidence and intent reports: documents built from measured values only."""
