"""The one error type business rules raise. Edges (API, screens, admin, commands) turn it into a 4xx."""


class DomainError(Exception):
    """A rule said no. `code` is stable (clients switch on it), `message` is for people, `fields` maps input
    field names to messages when the error is about specific input."""

    code = "domain_error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None, status=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    """The request clashes with the current state (already paid, already posted, in flight)."""

    code = "conflict"
    status = 409


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class ApprovalRequired(DomainError):
    """The action needs a manager's approval that was not given."""

    code = "approval_required"
    status = 403
