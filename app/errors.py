"""The one base exception of the service and the errors users can meet."""

from __future__ import annotations


class ScoreboardError(Exception):
    """Base of every error the service raises on purpose; carries its HTTP answer."""

    status_code = 500
    code = "internal_error"
    retry_after: int | None = None

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retry_after is not None:
            self.retry_after = retry_after


class SettingsError(ScoreboardError):
    code = "bad_setting"


class BadRequest(ScoreboardError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ScoreboardError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ScoreboardError):
    status_code = 403
    code = "forbidden"


class NotFound(ScoreboardError):
    status_code = 404
    code = "not_found"


class AlreadyCompleted(ScoreboardError):
    status_code = 409
    code = "already_completed"


class Unprocessable(ScoreboardError):
    status_code = 422
    code = "unprocessable"


class TooManyRequests(ScoreboardError):
    status_code = 429
    code = "too_many_requests"


class ServiceUnavailable(ScoreboardError):
    status_code = 503
    code = "unavailable"
    retry_after = 2
