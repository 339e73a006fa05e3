"""The prober's HTTP engine under httpx's API (issue 14).

``ProbeTransport`` (httpx_transport.py) is an ``httpx.AsyncBaseTransport``: httpx keeps the
API, redirects and content decoding; the transport makes one fresh connection per request
and reads the answer with httptools over an asyncio protocol (wire.py). tls.py builds the
client contexts and reads the earliest expiry of the peer's certificate chain. cookies.py
scopes a shared client's cookies to one check.
"""

from .cookies import CheckCookieJar, check_cookies, scope_cookies
from .httpx_transport import ProbeTransport, ResponseBody
from .tls import client_context, earliest_expiry
from .wire import MalformedResponse

__all__ = [
    "CheckCookieJar",
    "MalformedResponse",
    "ProbeTransport",
    "ResponseBody",
    "check_cookies",
    "client_context",
    "earliest_expiry",
    "scope_cookies",
]
