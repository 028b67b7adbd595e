"""Operators: the work of a phase that is not a wait (a sensor that cannot poke is an operator)."""
