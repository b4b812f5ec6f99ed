"""Service errors: each carries the HTTP status and a stable code the API answers with.

Part of ``modules.services`` (its docstring holds the design choices); import from there.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


# --- errors -------------------------------------------------------------------------------------------------------
class ServiceError(Exception):
    http_status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidInput(ServiceError):
    http_status = 400
    code = "invalid"


class Forbidden(ServiceError):
    http_status = 403
    code = "forbidden"


class Conflict(ServiceError):
    http_status = 409
    code = "conflict"


class RateLimited(ServiceError):
    http_status = 429
    code = "rate_limited"
