"""Errors that services raise; the API and the views translate them to 4xx responses or form errors."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(ServiceError):
    """Input is well-formed but not acceptable: field -> messages."""

    status_code = 422

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(message, errors={field: [message]})


class InvalidTransition(ServiceError):
    status_code = 409


class StaleVersion(ServiceError):
    """Optimistic concurrency: somebody else saved the record since it was read."""

    status_code = 409


class Conflict(ServiceError):
    status_code = 409


class NotFound(ServiceError):
    status_code = 404


class AccessDenied(ServiceError):
    status_code = 403
