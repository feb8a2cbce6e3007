"""The address policy: which resolved addresses a feed connection may reach (pure decisions)."""

from __future__ import annotations

import pytest

from ingest.addresses import STRICT, AddressPolicy, embedded_ipv4, parse_networks
from newsflow.core.settings import FetchSettings, load_settings

OPT_IN = AddressPolicy(allow_private=True)

# Refused by default, allowed with NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES=true (or an allow-list).
PRIVATE = {
    "127.0.0.1": "loopback", "127.8.9.10": "loopback", "::1": "loopback",
    "10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private",
    "100.64.0.1": "carrier-grade NAT", "100.127.255.254": "carrier-grade NAT",
    "fc00::1": "unique local", "fd12:3456::1": "unique local",
    "64:ff9b:1::a00:1": "local-use NAT64",
    "198.18.0.1": "private", "192.0.2.1": "private",  # benchmarking, documentation
    # IPv6 forms carrying a refused IPv4 address are judged by that address.
    "::ffff:127.0.0.1": "IPv4-mapped form of 127.0.0.1", "::ffff:10.0.0.1": "IPv4-mapped form of 10.0.0.1",
    "::127.0.0.1": "IPv4-compatible form of 127.0.0.1", "::10.0.0.1": "IPv4-compatible form of 10.0.0.1",
    "2002:7f00:1::": "6to4 form of 127.0.0.1", "2002:a00:1::1": "6to4 form of 10.0.0.1",
    "2002:c0a8:101:1::1": "6to4 form of 192.168.1.1",
    "64:ff9b::7f00:1": "NAT64 form of 127.0.0.1", "64:ff9b::10.0.0.1": "NAT64 form of 10.0.0.1",
    # Teredo: server 65.54.227.120, client (obfuscated) 127.0.0.1 / 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "Teredo form of 127.0.0.1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "Teredo form of 10.0.0.1",
}
# Refused whatever the settings say.
ALWAYS = {
    "169.254.169.254": "link-local", "fe80::1": "link-local", "100.100.100.200": "metadata",
    "fd00:ec2::254": "metadata", "0.0.0.0": "this network", "0.1.2.3": "this network",
    "::": "not a routable", "224.0.0.1": "not a routable", "ff02::1": "not a routable",
    "255.255.255.255": "broadcast", "240.0.0.1": "not a routable",
    "::ffff:169.254.169.254": "IPv4-mapped form of 169.254.169.254",
    "2002:a9fe:a9fe::": "6to4 form of 169.254.169.254", "64:ff9b::a9fe:a9fe": "NAT64 form of 169.254.169.254",
}
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::1", "64:ff9b::808:808",
          "::ffff:8.8.8.8", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"]


@pytest.mark.parametrize("address", sorted(PRIVATE))
def test_loopback_private_and_embedded_forms_are_refused_by_default(address: str) -> None:
    reason = STRICT.refusal_reason(address)
    assert reason is not None and PRIVATE[address] in reason
    assert "NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES=true" in reason  # the fix is in the message
    assert OPT_IN.refusal_reason(address) is None


@pytest.mark.parametrize("address", sorted(ALWAYS))
def test_link_local_metadata_and_unroutable_addresses_are_always_refused(address: str) -> None:
    wide_open = AddressPolicy(allow_private=True, allowed_networks=parse_networks(["0.0.0.0/0", "::/0"]))
    for policy in (STRICT, wide_open):
        reason = policy.refusal_reason(address)
        assert reason is not None and ALWAYS[address] in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_and_their_embedded_forms_are_allowed(address: str) -> None:
    assert STRICT.refusal_reason(address) is None


def test_embedded_ipv4_names_the_form_and_the_address() -> None:
    import ipaddress

    loopback = ipaddress.IPv4Address("127.0.0.1")
    assert embedded_ipv4(ipaddress.IPv6Address("2002:7f00:1::")) == ("6to4", (loopback,))
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::a00:1"))[1] == (ipaddress.IPv4Address("10.0.0.1"),)
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700::1")) == ("", ())


def test_the_allow_list_admits_its_networks_and_hosts_only() -> None:
    policy = AddressPolicy.from_settings(FetchSettings(allowed_networks=("10.1.0.0/16", "127.0.0.1"),
                                                       allowed_hosts=("Feeds.Internal.",)))
    assert policy.refusal_reason("10.1.2.3") is None
    assert policy.refusal_reason("::ffff:10.1.2.3") is None  # the same address in IPv6 clothes
    assert policy.refusal_reason("2002:7f00:1::") is None
    assert policy.refusal_reason("10.2.0.1") is not None
    assert policy.refusal_reason("127.0.0.2") is not None
    assert policy.refusal_reason("192.168.7.7", host="feeds.internal") is None
    assert policy.refusal_reason("192.168.7.7", host="other.internal") is not None
    assert policy.refusal_reason("169.254.169.254", host="feeds.internal") is not None  # never lifted


def test_the_default_is_strict_and_the_opt_in_and_allow_list_come_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES", raising=False)
    monkeypatch.setenv("NEWSFLOW_CONFIG", "")
    assert FetchSettings().allow_private_addresses is False
    monkeypatch.setenv("NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES", "true")
    monkeypatch.setenv("NEWSFLOW_FETCH__ALLOWED_NETWORKS", "10.1.0.0/16, 127.0.0.1")
    monkeypatch.setenv("NEWSFLOW_FETCH__ALLOWED_HOSTS", "feeds.internal")
    fetch = load_settings(home=tmp_path).fetch
    assert fetch.allow_private_addresses is True
    assert fetch.allowed_networks == ("10.1.0.0/16", "127.0.0.1")
    assert fetch.allowed_hosts == ("feeds.internal",)


def test_a_malformed_allowed_network_is_a_clear_settings_error() -> None:
    with pytest.raises(ValueError, match=r"NEWSFLOW_FETCH__ALLOWED_NETWORKS: '10\.0\.0\.0/33'"):
        FetchSettings(allowed_networks=("10.0.0.0/33",))
