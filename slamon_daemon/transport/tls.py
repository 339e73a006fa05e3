"""TLS for checks: the client contexts, and the earliest expiry of the peer's chain.

Trust: with verification on, a service trusts the system's CA store (as curl and the
Prometheus blackbox exporter do; certifi's bundle only where the system has none), or only
its own ``ca_file`` when it names one. With verification off, any certificate is accepted,
and its chain's expiry is still recorded.

Which chain's expiry: with verification on, the chain OpenSSL verified, from the leaf to
the trust anchor (an extra or stale certificate the server also sends cannot raise a false
alarm, and an intermediate or a root that expires before the leaf is seen: the chain stops
working then). With verification off, the certificates the server sent.

Reading the chain: Python 3.13 has ``SSLObject.get_verified_chain()`` and
``get_unverified_chain()``; Python 3.10 to 3.12 have the same two methods, not yet public,
on the ``_ssl._SSLSocket`` behind every ``SSLObject`` (``ssl_object._sslobj``), returning
``_ssl.Certificate`` objects whose ``public_bytes`` gives the DER. Both are used when
present; otherwise only the leaf (``getpeercert(binary_form=True)``) is read. The DER is
parsed with ``cryptography`` (the ssl module decodes only verified certificates), with a
small cache since a target presents the same few certificates check after check.
"""

from __future__ import annotations

import os
import ssl
from datetime import datetime
from typing import Any

from cryptography import x509

_DER = 2  # _ssl.ENCODING_DER
_EXPIRY_CACHE_SIZE = 4096
_expiry_cache: dict[bytes, datetime | None] = {}


def client_context(*, verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    """A client context: the system CAs, only ``ca_file``, or no verification at all."""
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_file:
        ctx = ssl.create_default_context(cafile=ca_file)
    elif _system_store_exists():
        ctx = ssl.create_default_context()
    else:
        import certifi

        ctx = ssl.create_default_context(cafile=certifi.where())
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _system_store_exists() -> bool:
    paths = ssl.get_default_verify_paths()
    return any(p and os.path.exists(p) for p in (paths.cafile, paths.capath))


def peer_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> list[bytes]:
    """The DER certificates whose expiry counts (see the module docstring), leaf first."""
    verified = ssl_object.context.verify_mode != ssl.CERT_NONE
    name = "get_verified_chain" if verified else "get_unverified_chain"
    method: Any = getattr(ssl_object, name, None)  # Python >= 3.13
    if method is None:
        method = getattr(getattr(ssl_object, "_sslobj", None), name, None)  # 3.10 to 3.12
    chain: list[Any] = (method() if method is not None else None) or []
    ders = [c if isinstance(c, bytes) else c.public_bytes(_DER) for c in chain]
    if not ders:
        leaf = ssl_object.getpeercert(binary_form=True)
        ders = [leaf] if leaf else []
    return ders


def earliest_expiry(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> datetime | None:
    """The earliest notAfter (UTC) over the peer's chain; None when nothing could be read."""
    expiries = [e for e in map(_expiry, peer_chain(ssl_object)) if e is not None]
    return min(expiries) if expiries else None


def _expiry(der: bytes) -> datetime | None:
    try:
        return _expiry_cache[der]
    except KeyError:
        pass
    try:
        expiry: datetime | None = x509.load_der_x509_certificate(der).not_valid_after_utc
    except ValueError:
        expiry = None
    if len(_expiry_cache) >= _EXPIRY_CACHE_SIZE:
        _expiry_cache.clear()
    _expiry_cache[der] = expiry
    return expiry
