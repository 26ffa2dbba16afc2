"""The OpenAPI schema documents every status code an operation can answer, errors included.

drf-spectacular documents the success responses it derives from the views. This AutoSchema adds
the errors every operation shares (401 without credentials, 403 not allowed, 429 locked out after
failed sign-ins), 404 where a path names an object or a list is paged, 400 where a request
carries a body or query parameters, and the operation's own statuses from the view's
`error_statuses` ({action or method: (status, ...)}). The schemathesis run in the test suite
(tests/test_api_fuzz.py) fails when an answer is not documented.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# Field errors: {"field": ["message", ...]}, or {"detail": "..."} for the request as a whole.
FIELD_ERRORS = {"type": "object", "additionalProperties": True}

DESCRIPTIONS = {
    "400": ("Bad input; the keys name the fields at fault.", FIELD_ERRORS),
    "401": ("No or wrong credentials (see WWW-Authenticate).", DETAIL),
    "403": ("Signed in, but not allowed to do this.", DETAIL),
    "404": ("Not found, or not visible to you.", DETAIL),
    "409": ("The dataset is not in a state that allows this.", DETAIL),
    "413": ("The upload is larger than HFD_MAX_UPLOAD_BYTES.", FIELD_ERRORS),
    "429": ("Locked out after too many failed sign-ins; try again later.", DETAIL),
    "502": ("The Hub refused the request.", DETAIL),
    "503": ("The Hub cannot be reached now.", DETAIL),
    "504": ("The Hub did not answer in time.", DETAIL),
}


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in sorted(self.error_statuses()):
            if code not in responses:
                description, schema = DESCRIPTIONS[code]
                responses[code] = {"description": description, "content": {"application/json": {"schema": schema}}}
        return responses

    def error_statuses(self):
        codes = {"401", "403", "429"}
        if "{" in self.path or self._is_list_view():
            codes.add("404")
        has_query = any(parameter.get("in") == "query" for parameter in self._get_parameters())
        if self.method in ("POST", "PUT", "PATCH") or has_query:
            codes.add("400")
        own = getattr(self.view, "error_statuses", {})
        key = getattr(self.view, "action", None) or self.method.lower()
        codes.update(str(code) for code in own.get(key, ()))
        return codes
