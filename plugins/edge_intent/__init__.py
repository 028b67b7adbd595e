"""Airflow glue of the intent pipeline: site connections, the sync and O2IMS waits, task bodies."""
