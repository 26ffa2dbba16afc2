"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis).

Every operation gets generated requests, valid and invalid, sent in-process to the WSGI app as a
signed-in user with an API token. No answer may be a 5xx, use a status the schema does not list
for that operation, or have a body or content type that breaks the schema. The number of examples
is bounded (HFD_FUZZ_EXAMPLES, default 25 per operation) so the run takes about a minute.
"""

import json
import os

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.accounts.models import ApiToken
from hfdatasets.wsgi import application

EXAMPLES = int(os.environ.get("HFD_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def api_schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    schema.app = application
    return schema


schema = api_schema()


@pytest.fixture
def token_header(user):
    _, key = ApiToken.objects.create(user=user, expiry=None, name="fuzz")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """As Django's test client does: the WSGI handler must not close the test's database connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def hub_lookups_fail_fast(settings):
    # /api/v1/hub/ asks the test Hub: no retries with backoff for the many made-up repo ids.
    settings.HFD_RETRY_BACKOFF = 0.0
    settings.HFD_MAX_FAULT_RETRIES = 1


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_no_server_errors_and_no_undocumented_answers(case, token_header):
    case.call_and_validate(headers=token_header, checks=CHECKS)
