"""Sensors: a ``poke`` that ``BaseSensorOperator`` loops, reschedules or defers."""
