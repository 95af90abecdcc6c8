"""Where a printer may point. A manager types a printer's host and port or its device path; the print worker then
connects or writes there, so an unchecked value would let the admin reach any address the server can (the cloud
metadata service, the database, Redis) or write to any file the app may.

- Network printers: the host is resolved and every address it resolves to must lie in PRINTER_ALLOWED_NETWORKS
  (the private ranges and loopback by default). Link-local addresses (169.254.0.0/16, such as the metadata service
  169.254.169.254, and fe80::/10) pass only if a listed network is itself link-local. The unspecified address,
  multicast and broadcast never pass. The port must be 1–65535 and not one of PRINTER_BLOCKED_PORTS (the app's own
  service ports by default).
- File printers: an absolute path, without "..", that after resolving symlinks lies inside one of
  PRINTER_DEVICE_DIRS (`/dev/usb` and the demo's `var/printers` by default).

`Printer.clean()` runs these checks when a printer is saved in the admin, and billing.printing runs them again
before every send, connecting to the address it checked (so a DNS answer cannot change in between).
"""

import ipaddress
import os
import socket
from dataclasses import dataclass

from django.conf import settings


class TargetRefused(ValueError):
    """The printer's target is not allowed; `field` names the printer field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class TargetUnresolved(TargetRefused):
    """The host name did not resolve: possibly a passing DNS failure, so a send may be tried again later."""


@dataclass(frozen=True)
class NetworkTarget:
    address: str
    port: int


def check_network_target(host: str, port) -> NetworkTarget:
    """The address to connect to for `host`:`port`, or TargetRefused saying why not."""
    host = (host or "").strip()
    if not host:
        raise TargetRefused("host", "A network printer needs a host.")
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise TargetRefused("port", "The port must be a number.") from None
    if not 1 <= port <= 65535:
        raise TargetRefused("port", "The port must be between 1 and 65535.")
    addresses = _resolve(host, port)
    for address in addresses:
        _check_address(host, address)
    if port in set(settings.PRINTER_BLOCKED_PORTS):
        raise TargetRefused("port", f"Port {port} is not allowed: it belongs to a service of this system.")
    return NetworkTarget(address=str(addresses[0]), port=port)


def check_device_path(path: str) -> str:
    """The resolved path to write to for `path`, or TargetRefused saying why not."""
    path = path or ""
    if not path.strip():
        raise TargetRefused("device_path", "A file printer needs a device path.")
    if "\x00" in path or not os.path.isabs(path) or ".." in path.split(os.sep):
        raise TargetRefused("device_path", "The device path must be absolute and must not contain '..'.")
    resolved = os.path.realpath(path)
    for directory in settings.PRINTER_DEVICE_DIRS:
        root = os.path.realpath(directory)
        if resolved != root and os.path.commonpath([resolved, root]) == root:
            return resolved
    allowed = ", ".join(str(directory) for directory in settings.PRINTER_DEVICE_DIRS)
    raise TargetRefused("device_path", f"{path} is not allowed: device paths must lie under {allowed}.")


def check_printer(printer) -> NetworkTarget | str:
    """The checked target of `printer`: a NetworkTarget, or the resolved device path of a file printer."""
    if printer.connection == "file":
        return check_device_path(printer.device_path)
    return check_network_target(printer.host, printer.port)


def _resolve(host: str, port: int) -> list:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetUnresolved("host", f"{host} does not resolve to an address ({exc}).") from None
    addresses = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetUnresolved("host", f"{host} does not resolve to an address.")
    return addresses


def _check_address(host: str, address) -> None:
    shown = host if host == str(address) else f"{host} ({address})"
    if address.is_unspecified or address.is_multicast or address == ipaddress.ip_address("255.255.255.255"):
        raise TargetRefused("host", f"{shown} is not allowed: not a printer's address.")
    networks = []
    for network in settings.PRINTER_ALLOWED_NETWORKS:
        try:
            networks.append(ipaddress.ip_network(network, strict=False))
        except ValueError:
            continue
    containing = [network for network in networks if network.version == address.version and address in network]
    if address.is_link_local:
        containing = [network for network in containing if network.is_link_local]
    if not containing:
        raise TargetRefused(
            "host", f"{shown} is not allowed: printers must be on {', '.join(map(str, networks)) or 'no network'}."
        )
