"""Errors raised by the intent compiler.

Every rejection names the field it is about and the reason, so that a CLI, an Airflow task log or a
REST answer can show the user exactly what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of the input.

    :param field: dotted path of the field (``expression.expressionValue``, ``text``, ``id``).
    :param reason: what is wrong with it, in words a user can act on.
    """

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class CompilerError(Exception):
    """Base class of every error the compiler raises on purpose."""


class IntentValidationError(CompilerError):
    """The input intent is invalid; retrying cannot fix it.

    :param errors: one or more field errors.
    :param stage: the stage that refused the input (``parse``, ``convert``, ``compile``).
    """

    def __init__(self, errors: list[FieldError] | FieldError, *, stage: str) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        self.stage = stage
        super().__init__(self._message())

    @classmethod
    def single(cls, field: str, reason: str, *, stage: str) -> IntentValidationError:
        return cls(FieldError(field, reason), stage=stage)

    def _message(self) -> str:
        lines = "; ".join(str(error) for error in self.errors)
        return f"invalid intent ({self.stage}): {lines}"

    def as_dict(self) -> dict[str, object]:
        return {"stage": self.stage, "errors": [error.as_dict() for error in self.errors]}


class RenderError(CompilerError):
    """kpt could not render a package; the message carries kpt's own output."""


class KptNotFoundError(RenderError):
    """The kpt binary is not installed or not executable."""
