"""Huawei SDK-HMAC-SHA256 signer (API Gateway "APIG" signing)."""

import hashlib
import hmac
import re
from urllib.parse import quote, unquote

HW_SIGN_ALGORITHM = "SDK-HMAC-SHA256"
HW_SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
HW_AUTH_HEADER_RE = re.compile(
    r"SDK-HMAC-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})")


def hw_escape(text):
    """RFC 3986 escaping of the signer: only A-Z a-z 0-9 - _ . ~ stay literal."""
    return quote(text, safe="-_.~")


def hw_canonical_uri(raw_path):
    """Each path segment decoded then re-escaped; a trailing ``/`` is always added."""
    uri = "/".join(hw_escape(unquote(segment)) for segment in raw_path.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def hw_canonical_query(raw_query):
    """Escaped ``name=value`` pairs sorted by name then value, joined by ``&``."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((hw_escape(unquote(name)), hw_escape(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def hw_canonical_request(method, raw_path, raw_query, headers, signed_headers, body):
    """Build the canonical request of section 3.2 of the Huawei notes.

    ``headers`` maps lower-case names to values; ``signed_headers`` is the
    lower-case, sorted list from the Authorization header; ``body`` the exact
    bytes sent.
    """
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join([method.upper(), hw_canonical_uri(raw_path), hw_canonical_query(raw_query),
                      canonical_headers, ";".join(signed_headers),
                      hashlib.sha256(body).hexdigest()])


def hw_string_to_sign(sdk_date, canonical_request):
    """Algorithm, X-Sdk-Date and the hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{HW_SIGN_ALGORITHM}\n{sdk_date}\n{digest}"


def hw_signature(secret_key, sdk_date, canonical_request):
    """HMAC-SHA256 keyed directly with the SK (no key derivation), lower-case hex."""
    return hmac.new(secret_key.encode("utf-8"),
                    hw_string_to_sign(sdk_date, canonical_request).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def hw_authorization(access_key, signed_headers, signature):
    """The Authorization header value the gateway expects."""
    return (f"{HW_SIGN_ALGORITHM} Access={access_key}, "
            f"SignedHeaders={';'.join(signed_headers)}, Signature={signature}")


def hw_sign(access_key, secret_key, method, raw_path, raw_query, headers, body=b""):
    """Sign a request over all of ``headers`` (must include X-Sdk-Date).

    Returns the Authorization header value.  The server only verifies; this
    client-side entry point exists so the self-test can send signed requests
    and check the known-answer vectors with the same code.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    signed = sorted(lower)
    canonical = hw_canonical_request(method, raw_path, raw_query, lower, signed, body)
    return hw_authorization(access_key, signed,
                            hw_signature(secret_key, lower["x-sdk-date"], canonical))
