"""Triggers, where the triggerer process imports them (never under the dags folder)."""
