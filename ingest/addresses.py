"""Which network addresses a feed request may connect to (server-side request forgery defence).

A feeds file, a redirect from a feed server or a full-text link must not make newsflow talk to the
unauthenticated local Elasticsearch, the cloud metadata service or anything else on the host's own
networks. The check runs on the RESOLVED address of every connection (`ingest.fetch` connects only to
the address it checked), so a hostname that resolves to a refused address, and every redirect hop,
are covered.

Always refused: link-local (169.254.0.0/16, fe80::/10, where cloud metadata services live), the
known metadata addresses, "this network" (0.0.0.0/8, ::), multicast, broadcast and reserved ranges.

Refused by default (every address that is not globally routable): loopback (127/8, ::1), private
(10/8, 172.16/12, 192.168/16), CGNAT (100.64/10), unique local (fc00::/7), the NAT64 local-use prefix
(64:ff9b:1::/48), benchmarking and documentation ranges. Allowed for self-hosted feeds by an
allow-list (`FetchSettings.allowed_networks`, `allowed_hosts`) or, for every such address, by
`FetchSettings.allow_private_addresses = true` (NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES=true).

IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, 6to4
2002::/16, NAT64 64:ff9b::/96, Teredo 2001::/32) are judged by the IPv4 address they embed, so
2002:7f00:1:: (6to4 of 127.0.0.1) is refused exactly as 127.0.0.1 is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from newsflow.core.settings import FetchSettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = frozenset({
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
    ipaddress.ip_address("168.63.129.16"),  # Azure wire server
    ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud metadata
})
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_TEREDO = ipaddress.ip_network("2001::/32")
_FIX = ("list it in NEWSFLOW_FETCH__ALLOWED_NETWORKS or NEWSFLOW_FETCH__ALLOWED_HOSTS to fetch a "
        "self-hosted feed, or set NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES=true to allow every "
        "private address")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, tuple[ipaddress.IPv4Address, ...]]:
    """The IPv4 address(es) an IPv6 address carries, with the name of the form; ("", ()) for none."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return "6to4", (ip.sixtofour,)
    if ip.teredo is not None:
        server, client = ip.teredo
        return "Teredo", (client, server)
    if ip in _NAT64:
        return "NAT64", (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # not :: or ::1, which are addresses of their own
        return "IPv4-compatible", (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    return "", ()


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What a connection may reach. The default refuses every address that is not globally routable."""

    allow_private: bool = False  # every loopback and private address (tests, trusted set-ups)
    allowed_networks: tuple[Network, ...] = ()  # self-hosted feeds' networks (or single addresses)
    allowed_hosts: frozenset[str] = frozenset()  # self-hosted feeds' host names, lower case

    @classmethod
    def from_settings(cls, fetch: FetchSettings) -> AddressPolicy:
        return cls(
            allow_private=fetch.allow_private_addresses,
            allowed_networks=parse_networks(fetch.allowed_networks),
            allowed_hosts=frozenset(normal_host(h) for h in fetch.allowed_hosts),
        )

    def refusal_reason(self, address: str, host: str = "") -> str | None:
        """Why a connection to `address` (an IP literal, resolved from `host`) is refused, or None."""
        try:
            ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        if isinstance(ip, ipaddress.IPv6Address):
            form, carried = embedded_ipv4(ip)
            for ipv4 in carried:
                reason = self.refusal_reason(str(ipv4), host)
                if reason is not None:
                    return f"{ip} is the {form} form of {ipv4}: {reason}"
            if carried:
                return None
        always = _always_refused(ip)
        if always is not None:
            return always
        if ip.is_global and ip not in _CGNAT and ip not in _NAT64_LOCAL:
            return None
        if self.allow_private or normal_host(host) in self.allowed_hosts:
            return None
        if any(ip in network for network in self.allowed_networks if network.version == ip.version):
            return None
        return f"{ip} is {_kind(ip)}, refused by the address policy ({_FIX})"


STRICT = AddressPolicy()


def refusal_reason(address: str, *, allow_private: bool = False, host: str = "",
                   policy: AddressPolicy | None = None) -> str | None:
    """Why a connection to `address` is refused under `policy` (default: strict, or every private
    address allowed with `allow_private`), or None when it is allowed."""
    chosen = policy if policy is not None else AddressPolicy(allow_private=allow_private)
    return chosen.refusal_reason(address, host)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR networks or single addresses ("10.1.0.0/16", "127.0.0.1", "fd00::/8")."""
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(
                f"{value!r} in fetch.allowed_networks is not a network or address: {exc} "
                "(write e.g. 10.1.0.0/16 or 127.0.0.1, separated by commas)"
            ) from exc
    return tuple(networks)


def normal_host(host: str) -> str:
    return host.strip().rstrip(".").lower().removeprefix("[").removesuffix("]")


def _always_refused(ip: Address) -> str | None:
    """Reasons no allow-list lifts: nothing a feed could legitimately be served from."""
    if ip in _METADATA:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (where cloud metadata services live)"
    if isinstance(ip, ipaddress.IPv4Address):
        if ip == _BROADCAST:
            return f"{ip} is the broadcast address"
        if ip in _THIS_NETWORK:
            return f"{ip} is in 0.0.0.0/8 ('this network')"
    if ip.is_unspecified or ip.is_multicast or (ip.is_reserved and not ip.is_loopback
                                                 and ip not in _NAT64_LOCAL):
        return f"{ip} is not a routable unicast address"
    return None


def _kind(ip: Address) -> str:
    if ip.is_loopback:
        return "a loopback address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.ip_network("fc00::/7"):
        return "a unique local address (fc00::/7)"
    if ip in _NAT64_LOCAL:
        return "a local-use NAT64 address (64:ff9b:1::/48)"
    if ip.is_private:
        return "a private address"
    return "not a globally routable address"
