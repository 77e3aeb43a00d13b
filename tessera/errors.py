"""Domain errors: each carries a stable code, a message for people, and an HTTP status."""


class TesseraError(Exception):
    """A request the domain refuses; nothing was changed."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, **details):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        # Facts a client can act on beside the message, e.g. when a closed centre opens.
        self.details = details

    def as_dict(self) -> dict:
        """The API's error body."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class NotFound(TesseraError):
    """The thing asked for does not exist (or is not this caller's to see)."""

    status = 404
    code = "not_found"


class InvalidInput(TesseraError):
    """The request is well formed but its values are not acceptable."""

    status = 422
    code = "invalid_input"


class Conflict(TesseraError):
    """The request does not fit the current state (another desk was faster, ...)."""

    status = 409
    code = "conflict"


class Forbidden(TesseraError):
    """The request is understood but refused as it stands (e.g. a booking without its proof)."""

    status = 403
    code = "forbidden"


class TooManyRequests(TesseraError):
    """The caller has made too many requests of this kind; `retry_after` says when to retry."""

    status = 429
    code = "rate_limited"
