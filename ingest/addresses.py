"""Which network addresses a feed request may connect to (server-side request forgery defence).

A feeds file, or a redirect from a feed server, must not make newsflow talk to the cloud metadata
service or other link-local endpoints. The check runs on the RESOLVED address of every connection
(`ingest.fetch` connects only to the address it checked), so a hostname that resolves to a refused
address, and every redirect hop, are covered.

Always refused: link-local (169.254.0.0/16, fe80::/10, where cloud metadata services live), the
known metadata addresses (100.100.100.200, fd00:ec2::254, 168.63.129.16), "this network"
(0.0.0.0/8, ::), multicast, broadcast and reserved ranges.
Allowed by default, refused with `FetchSettings.allow_private_addresses = False`: loopback and
private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, 127/8, ::1) for self-hosted feeds.
"""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = frozenset({
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
    ipaddress.ip_address("168.63.129.16"),  # Azure wire server
    ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud metadata
})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def refusal_reason(address: str, *, allow_private: bool = True) -> str | None:
    """Why a connection to `address` (an IP literal) is refused, or None when it is allowed."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (where cloud metadata services live)"
    if ip.is_unspecified or ip.is_multicast or (ip.is_reserved and not ip.is_private):
        return f"{ip} is not a routable unicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return f"{ip} is the broadcast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("0.0.0.0/8"):
        return f"{ip} is in 0.0.0.0/8 ('this network')"
    private = ip.is_loopback or ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    if private and not allow_private:
        return (f"{ip} is a loopback or private address "
                "(set fetch.allow_private_addresses to true to allow self-hosted feeds)")
    return None
