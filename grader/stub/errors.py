"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}`` with the real status codes.

Validation code raises :class:`APIError`; the core turns it into a response, so every
rejection has the same body shape the SDK maps onto ``openai.BadRequestError`` and friends.
"""

from __future__ import annotations

from collections.abc import Mapping

from grader.stub.wire import StubResponse, json_response


class APIError(Exception):
    """A request the real API would reject, with everything needed to answer like it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def to_response(self) -> StubResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return json_response(self.status, body, self.headers)


def invalid(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """A 400 ``invalid_request_error``, the most common rejection."""
    return APIError(400, message, param=param, code=code)


def missing(param: str) -> APIError:
    """The real wording for an absent required field."""
    return invalid(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def wrong_type(param: str, expected: str, value: object) -> APIError:
    """The real wording for a field of the wrong JSON type."""
    got = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
    if value is None:
        got = "null"
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        param=param,
        code="invalid_type",
    )


def model_not_found(model: str) -> APIError:
    return APIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def unknown_url(method: str, path: str) -> APIError:
    return APIError(404, f"Invalid URL ({method} {path})")


def missing_api_key() -> APIError:
    return APIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using "
        "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    )


def bad_api_key(key: str) -> APIError:
    shown = key[:3] + "*" * max(len(key) - 7, 0) + key[-4:] if len(key) > 8 else "*" * len(key)
    return APIError(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )
