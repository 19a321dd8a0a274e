"""A device's broker list: what `--mqtt-host` accepts, and the order the link tries them in."""

from __future__ import annotations

import pytest

from edge_service.mqtt.brokers import BrokerRotation, format_address, parse_brokers


@pytest.mark.parametrize("text, brokers", [
    ("broker.local", [("broker.local", 1883)]),
    ("n1, n2:1884", [("n1", 1883), ("n2", 1884)]),
    ("[::1]:1885,[fd00::3]", [("::1", 1885), ("fd00::3", 1883)]),
    ("fd00::3", [("fd00::3", 1883)]),  # a bare IPv6 address takes the default port
])
def test_a_list_of_hosts_with_or_without_ports(text, brokers):
    assert parse_brokers(text, 1883) == brokers


@pytest.mark.parametrize("text, words", [
    ("a,,b", "an empty broker address between commas"),
    ("a,", "an empty broker address between commas"),
    ("a:0", "the port must be a number from 1 to 65535"),
    ("a:99999", "the port must be a number from 1 to 65535"),
    ("a:http", "the port must be a number from 1 to 65535"),
    ("a:\u0663", "the port must be a number from 1 to 65535"),   # an Arabic-Indic three is not a port
    ("a:\uff11\uff18\uff18\uff13", "the port must be a number from 1 to 65535"),  # nor are full-width digits
    ("a:1:2", "an IPv6 address goes in brackets"),
    ("[::1", "([IPv6]:port)"),
    ("[::1]1883", "([IPv6]:port)"),
    ("[nope]:1883", "an IPv6 address goes in brackets"),
    ("mqtt://a", "is not a broker address"),
    ("user@a", "is not a broker address"),
    ("a b", "is not a broker address"),
    (":1883", "is not a broker address"),
    ("a..b,c", "'a..b' is not a host name"),
    ("n1,n2,n1:1883", "n1:1883 is listed twice"),
    ("x" * 300, "is not a host name"),
])
def test_a_malformed_list_says_which_entry_and_why(text, words):
    with pytest.raises(ValueError) as refused:
        parse_brokers(text, 1883)
    assert words in str(refused.value)


def test_addresses_are_written_back_with_brackets_around_ipv6():
    assert format_address("::1", 1883) == "[::1]:1883" and format_address("a", 1) == "a:1"


def test_the_rotation_moves_on_after_a_failure_and_a_round_ends_after_every_broker_failed():
    rotation = BrokerRotation([("a", 1), ("b", 2), ("c", 3)])
    assert rotation.address == "a:1"
    assert not rotation.failed() and rotation.address == "b:2"
    assert not rotation.failed() and rotation.address == "c:3"
    assert rotation.failed() and rotation.address == "a:1"  # a whole round: time to back off
    rotation.connected()
    assert rotation.address == "a:1" and not rotation.failed()


def test_a_round_is_refused_only_when_every_broker_refused():
    rotation = BrokerRotation([("a", 1), ("b", 2)])
    assert not rotation.refused("a: not authorized")
    rotation.failed()
    rotation.failed()  # b could not be reached: not a refusal
    assert not rotation.round_refused
    assert not rotation.refused("a: not authorized")
    rotation.failed()
    assert rotation.refused("b: not authorized")
    rotation.failed()
    assert rotation.round_refused
