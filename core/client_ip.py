"""The client's address: one policy for the access logs, the sign-in lockout (django-axes) and the PIN limits.

A forwarded header is believed only when the direct peer (`REMOTE_ADDR`) is a trusted proxy (`TRUSTED_PROXIES`,
addresses or CIDRs; loopback by default). The header is `PROXY_CLIENT_IP_HEADER` (docker-compose.prod.yml:
`X-Real-IP`, which deploy/nginx.conf overwrites), or `X-Forwarded-For` when none is named; of a list of hops the
nearest one that is not itself a trusted proxy counts. Anyone else — a client that reaches gunicorn directly — is
its `REMOTE_ADDR`, whatever headers it sends, so it cannot escape a lockout by rotating a header.
"""

import ipaddress

from django.conf import settings

DEFAULT_HEADER = "X-Forwarded-For"


def client_ip(request) -> str:
    """The address of the client that sent `request` (see the module docstring); "" when there is none."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = getattr(settings, "TRUSTED_PROXIES", [])
    if not (trusted and in_networks(remote, trusted)):
        return remote
    header = getattr(settings, "PROXY_CLIENT_IP_HEADER", "") or DEFAULT_HEADER
    value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    hops = [hop.strip() for hop in value.split(",") if hop.strip()]
    if not hops or not all(_is_address(hop) for hop in hops):
        return remote
    for hop in reversed(hops):
        if not in_networks(hop, trusted):
            return str(ipaddress.ip_address(hop))
    return str(ipaddress.ip_address(hops[0]))


def axes_client_ip(request) -> str | None:
    """`client_ip` for django-axes (AXES_CLIENT_IP_CALLABLE), which wants None rather than ""."""
    return client_ip(request) or None


def in_networks(address: str, networks) -> bool:
    """Whether `address` is in any of `networks` (addresses or CIDRs; unparseable entries are skipped)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
