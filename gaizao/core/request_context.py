"""Who is acting and under which request id, for the audit log.

Set by middleware for web requests and by the job runner for background jobs,
so that a service deep down can stamp its audit row without every caller
threading the request id through.
"""

import contextvars
import uuid
from contextlib import contextmanager

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("gaizao_request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def request_id_bound(request_id: str):
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
