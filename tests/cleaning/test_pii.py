"""PII recognizers and the redactor: each kind found in its usual forms, and the hard negatives
that only look like it left alone."""

from __future__ import annotations

import pytest

from ragline.cleaning.pii import PII_KINDS, Redactor, find_pii, iban_ok, luhn_ok, ssn_ok
from ragline.errors import ConfigError


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("write to maria.garcia@example.com today", "maria.garcia@example.com"),
        ("cc <J_SMITH42@MAIL.EXAMPLE.ORG>", "J_SMITH42@MAIL.EXAMPLE.ORG"),
        ("(mailto:pierre+news@uni-bonn.de)", "pierre+news@uni-bonn.de"),
    ],
)
def test_email_found(text, value):
    assert kinds(text) == [("email", value)]


@pytest.mark.parametrize(
    "text", ["icon@2x.png is the retina asset", "ping @maria about it", "user at example dot com"]
)
def test_email_negatives(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Call (415) 555-0132 after 5 pm", "(415) 555-0132"),
        ("Phone: +1 212-867-5309.", "+1 212-867-5309"),
        ("reachable at +44 20 7946 0958 or by mail", "+44 20 7946 0958"),
        ("fax +49 30 9018200", "+49 30 9018200"),
        ("call 4158675309 tonight", "4158675309"),
    ],
)
def test_phone_found(text, value):
    assert kinds(text) == [("phone", value)]


@pytest.mark.parametrize(
    "text",
    [
        "order number 4158675309 shipped",  # a bare digit run without a phone word
        "order #30789-75419 is late",
        "filed on 2023-10-12 at 10:30:45",
        "ISBN 978-3-16-148410-0",
        "a total of $1,234,567.89",
    ],
)
def test_phone_negatives(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Card number 4111 1111 1111 1111 was charged", "4111 1111 1111 1111"),
        ("paid with 5500-0000-0000-0004", "5500-0000-0000-0004"),
        ("card:378282246310005", "378282246310005"),
        ("Amex 3782 822463 10005", "3782 822463 10005"),
    ],
)
def test_credit_card_found(text, value):
    assert kinds(text) == [("credit_card", value)]


@pytest.mark.parametrize(
    "text",
    [
        "tracking number 4111 1111 1111 1112",  # fails the Luhn check
        "IMEI 490154203237518",  # Luhn-valid, but no card network's length and prefix
        "order 1234567812345670 (Luhn-valid, no issuer prefix)",
        "account ES70 4428 6370 9727 6385 3240",  # digits inside a (bad) IBAN
    ],
)
def test_credit_card_negatives(text):
    assert [k for k, _ in kinds(text)] == []


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("IBAN: DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
        ("to GB82WEST12345698765432 please", "GB82WEST12345698765432"),
        ("bank account NL91 ABNA 0417 1643 00 (ING)", "NL91 ABNA 0417 1643 00"),
    ],
)
def test_iban_found(text, value):
    assert kinds(text) == [("iban", value)]


def test_iban_negatives():
    assert kinds("account DE88 3704 0044 0532 0130 00") == []  # check digits off by one
    assert kinds("model AB12 CDEF GH34 release") == []
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE8937040044053201300")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("SSN 219-09-9999 on file", "219-09-9999"),
        ("Social security number: 078 05 1120", "078 05 1120"),
        ("her SSN is 219099999.", "219099999"),
    ],
)
def test_ssn_found(text, value):
    assert kinds(text) == [("ssn", value)]


@pytest.mark.parametrize(
    "text",
    [
        "ref 000-12-3456",
        "ref 666-12-3456",
        "ref 901-12-3456",
        "ref 123-00-4567",
        "ref 123-45-0000",
        "id 219099999",
    ],
)
def test_ssn_negatives(text):
    assert kinds(text) == []


def test_ssn_rules():
    assert ssn_ok("001", "01", "0001")
    assert not ssn_ok("666", "01", "0001") and not ssn_ok("950", "01", "0001")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Login from 203.0.113.7 was blocked", "203.0.113.7"),
        ("open http://192.168.1.20:8080/status", "192.168.1.20"),
        ("client 2001:db8::8a2e:370:7334 connected", "2001:db8::8a2e:370:7334"),
        ("v6 fe80:0:0:0:204:61ff:fe9d:f156.", "fe80:0:0:0:204:61ff:fe9d:f156"),
    ],
)
def test_ip_found(text, value):
    assert kinds(text) == [("ip_address", value)]


@pytest.mark.parametrize(
    "text",
    [
        "version 2.10.0.1 is out",
        "see v1.2.3.4",
        "256.1.1.1 is no address",
        "MAC 00:1A:2B:3C:4D:5E",
        "at 10:30:45",
        "section 1.2.3.4.5",
        "Tyrosine hydroxylase (TH, EC 1.14.16.2) from bees",
    ],
)
def test_ip_negatives(text):
    assert kinds(text) == []


def test_redactor_modes():
    text = "Mail jo@example.com or call +1 415-555-0132 now"
    assert Redactor().redact(text).text == "Mail <EMAIL> or call <PHONE> now"
    assert Redactor(mode="remove").redact(text).text == "Mail or call now"
    hashed = Redactor(mode="hash", hash_key=b"k").redact(text + " jo@example.com").text
    tags = [w for w in hashed.split() if w.startswith("<EMAIL:")]
    assert len(tags) == 2 and tags[0] == tags[1] and "jo@" not in hashed
    other = Redactor(mode="hash", hash_key=b"other").redact(text).text
    assert next(w for w in other.split() if w.startswith("<EMAIL:")) != tags[0]


def test_redactor_counts_and_kinds():
    r = Redactor(kinds=("email",))
    got = r.redact("jo@example.com, ann@example.org, 203.0.113.7")
    assert got.text == "<EMAIL>, <EMAIL>, 203.0.113.7"
    assert dict(got.counts) == {"email": 2}


def test_redactor_bad_config():
    with pytest.raises(ConfigError, match="hash_key"):
        Redactor(mode="hash")
    with pytest.raises(ConfigError, match="passport"):
        Redactor(kinds=("passport",))  # type: ignore[arg-type]
    assert set(PII_KINDS) == {"email", "phone", "credit_card", "iban", "ssn", "ip_address"}
