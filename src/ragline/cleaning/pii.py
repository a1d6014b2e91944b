"""PII redaction: personal data found by validated patterns, replaced before anything is indexed.

Each kind is a recognizer: a regular expression for candidates and a check that rejects what only
looks like the kind (Luhn for card numbers, mod-97 for IBANs, the SSA's area/group/serial rules
for SSNs, :mod:`ipaddress` for IP addresses, Google's libphonenumber metadata for phone numbers).
Person names and locations need a named-entity model; none installs from PyPI without downloading
weights at run time, so they are not recognized (docs/benchmarks.md, "PII redaction").

Example::

    r = Redactor(mode="placeholder")
    r.redact("Mail jo@example.com or call +1 415-555-0132").text
    # 'Mail <EMAIL> or call <PHONE>'
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import ipaddress
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal, Protocol

from ragline.errors import ConfigError

PiiKind = Literal["email", "phone", "credit_card", "iban", "ssn", "ip_address"]
RedactMode = Literal["placeholder", "remove", "hash"]
# Order is priority: where two kinds claim overlapping text, the earlier one wins (a card number's
# digits are not also a phone number; an e-mail's domain is not an IP address).
PII_KINDS: tuple[PiiKind, ...] = ("email", "iban", "credit_card", "ssn", "ip_address", "phone")


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One finding: its kind and character offsets in the text searched."""

    kind: PiiKind
    start: int
    end: int


class Recognizer(Protocol):
    """Finds one kind of PII in a text."""

    kind: PiiKind

    def find(self, text: str) -> Iterator[tuple[int, int]]: ...


# -- validators -------------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check of payment card numbers (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_brand_ok(digits: str) -> bool:
    """Issuer prefixes and lengths of the major networks: a random Luhn-valid number (1 in 10 of
    any digits) mostly has none of them, so order and tracking numbers are not taken for cards."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    return (
        (digits[0] == "4" and n in (13, 16, 19))  # Visa
        or (51 <= two <= 55 and n == 16)
        or (2221 <= four <= 2720 and n == 16)  # Mastercard
        or (two in (34, 37) and n == 15)  # American Express
        or ((digits.startswith("6011") or two == 65 or 644 <= int(digits[:3]) <= 649) and n in (16, 19))
        or (3528 <= four <= 3589 and n in (16, 19))  # JCB
        or ((two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305) and n in (14, 16, 19))  # Diners
        or (digits.startswith("62") and 16 <= n <= 19)  # UnionPay
    )


# ISO 13616 lengths per country (the SWIFT IBAN registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_ok(iban: str) -> bool:
    """Country length and the ISO 7064 mod-97 check of an IBAN without spaces, upper case."""
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000."""
    a = int(area)
    return a != 0 and a != 666 and a < 900 and group != "00" and serial != "0000"


# -- recognizers ------------------------------------------------------------------------------------


class _Regex:
    """A regular expression whose matches are PII when ``ok`` accepts them."""

    kind: PiiKind
    pattern: re.Pattern[str]

    def ok(self, m: re.Match[str]) -> bool:
        return True

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        for m in self.pattern.finditer(text):
            if self.ok(m):
                yield m.span()


class EmailRecognizer(_Regex):
    kind: PiiKind = "email"
    pattern = re.compile(
        r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
        r"([A-Za-z]{2,24})(?![\w-])"
    )
    # Retina image names (icon@2x.png) end like an address; these endings are no top-level domains.
    _FILE_ENDINGS = frozenset(
        [
            "png",
            "jpg",
            "jpeg",
            "gif",
            "svg",
            "webp",
            "bmp",
            "ico",
            "tif",
            "tiff",
            "pdf",
            "txt",
            "csv",
            "json",
            "xml",
            "html",
            "htm",
            "js",
            "css",
            "md",
        ]
    )

    def ok(self, m: re.Match[str]) -> bool:
        return m.group(1).lower() not in self._FILE_ENDINGS


class CreditCardRecognizer(_Regex):
    """13-19 digits, in one run or in groups split by single spaces or hyphens."""

    kind: PiiKind = "credit_card"
    # Not a run inside a longer one ("4428 6370 9727 6385 3240"), nor the digits of a printed
    # IBAN after its country, check digits and bank code ("GB49 KTJA 3021 9200 2490 50").
    pattern = re.compile(
        r"(?<![\w.,/-])(?<!\d[ -])(?<![A-Z]{2}\d{2} )(?<![A-Z]{2}\d{2} [A-Z0-9]{4} )"
        r"\d(?:[ -]?\d){12,18}(?![\w/]|[., -]\d)"
    )

    def ok(self, m: re.Match[str]) -> bool:
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        if len({ch for ch in raw if not ch.isdigit()}) > 1:
            return False  # mixed separators: "2024-01 5555 ..." is not one number
        return 13 <= len(digits) <= 19 and _card_brand_ok(digits) and luhn_ok(digits)


class IbanRecognizer(_Regex):
    """Printed (groups of four split by spaces) or electronic (one run) form."""

    kind: PiiKind = "iban"
    pattern = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{1,4}){3,8}(?![\w-])")

    def ok(self, m: re.Match[str]) -> bool:
        return iban_ok(m.group().replace(" ", ""))

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        for m in self.pattern.finditer(text):
            if self.ok(m):
                yield m.span()
                continue
            # The greedy groups may have taken a following word ("... 3000 AB"): try shorter.
            compact = m.group().replace(" ", "")
            want = _IBAN_LENGTHS.get(compact[:2])
            if want is None or len(compact) <= want or not iban_ok(compact[:want]):
                continue
            seen, end = 0, m.start()
            for ch in m.group():
                end += 1
                seen += ch != " "
                if seen == want:
                    break
            if end == m.end() or not text[end].isalnum():
                yield m.start(), end


class SsnRecognizer(_Regex):
    """AAA-GG-SSSS with hyphens or spaces; nine digits in one run only after "SSN" or "social
    security" (otherwise every nine-digit number would be a candidate)."""

    kind: PiiKind = "ssn"
    pattern = re.compile(
        r"(?<![\w./-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w/]|[.-]\d)"
        r"|(?i:\b(?:ssn|social security(?: number| no\.?)?)\W{0,3}(?:is\W{1,2})?)(\d{3})(\d{2})(\d{4})(?!\w)"
    )

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        for m in self.pattern.finditer(text):
            if m.group(1) is not None:
                if ssn_ok(m.group(1), m.group(3), m.group(4)):
                    yield m.span()
            elif ssn_ok(m.group(5), m.group(6), m.group(7)):
                yield m.start(5), m.end(7)


class IpRecognizer(_Regex):
    """IPv4 dotted quads and IPv6 (full, compressed, IPv4-suffixed), parsed by :mod:`ipaddress`.
    A dotted quad right after "v", "version" or "EC" is a version or enzyme number, not an address."""

    kind: PiiKind = "ip_address"
    pattern = re.compile(
        r"(?<![\w.:])(?:"
        # A port may follow an IPv4 address (192.168.1.20:8080); a colon and hex after it may not.
        r"(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d|:[0-9A-Fa-f]{0,4}:)"
        r"|(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d)"
        r")"
    )
    # Dotted quads that are not addresses: versions, and enzyme numbers ("EC 1.14.16.2", the one
    # false finding in SciFact's 7.8 M characters).
    _VERSION = re.compile(r"(?i)(?:\bv|version|release|build|ver\.?|\bEC)\s*$")

    def ok(self, m: re.Match[str]) -> bool:
        raw = m.group()
        try:
            addr = ipaddress.ip_address(raw)
        except ValueError:
            return False
        if addr.version == 4:
            return not self._VERSION.search(m.string[max(0, m.start() - 12) : m.start()])
        # "::" alone, or a clock time like 10:30 that happens to parse, is not worth redacting.
        return raw.count(":") >= 2 and sum(ch.isalnum() for ch in raw) >= 4


class PhoneRecognizer:
    """Numbers libphonenumber finds and validates (number ranges of the region, digits grouped as
    the region writes them), in international form anywhere and in national form for ``region``.
    A bare run of digits (no "+", no separators) counts only after a word such as "call",
    "phone" or "fax": order and reference numbers are bare runs of digits too."""

    kind: PiiKind = "phone"
    _CONTEXT = re.compile(
        r"(?i)\b(?:call|phone|tel|telephone|mobile|cell|fax|reach|reachable|contact|dial|sms|whatsapp|"
        r"ring)\b[^.\n]{0,24}$"
    )

    def __init__(self, region: str = "US") -> None:
        self.region = region

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        import phonenumbers

        matcher = phonenumbers.PhoneNumberMatcher(
            text, self.region, leniency=phonenumbers.Leniency.STRICT_GROUPING
        )
        for match in matcher:
            raw = match.raw_string
            if raw.isdigit() and not self._CONTEXT.search(text[max(0, match.start - 40) : match.start]):
                continue
            yield match.start, match.end


@cache
def _recognizer(kind: PiiKind, region: str) -> Recognizer:
    if kind == "phone":
        return PhoneRecognizer(region)
    cls: type[_Regex] = {
        "email": EmailRecognizer,
        "credit_card": CreditCardRecognizer,
        "iban": IbanRecognizer,
        "ssn": SsnRecognizer,
        "ip_address": IpRecognizer,
    }[kind]
    return cls()


def find_pii(text: str, kinds: Sequence[PiiKind] = PII_KINDS, region: str = "US") -> list[PiiSpan]:
    """Non-overlapping findings of ``kinds`` in ``text``, in text order (see :data:`PII_KINDS`
    for which kind wins an overlap)."""
    taken: list[PiiSpan] = []  # sorted by start, never overlapping
    starts: list[int] = []
    for kind in (k for k in PII_KINDS if k in kinds):
        searched = text
        if kind == "phone" and taken:
            # libphonenumber parses every digit run it meets (its cost): the card numbers, IBANs
            # and addresses found already are blanked out first, offsets unchanged.
            parts, at = [], 0
            for t in taken:
                parts += [text[at : t.start], " " * (t.end - t.start)]
                at = t.end
            searched = "".join([*parts, text[at:]])
        for start, end in _recognizer(kind, region).find(searched):
            i = bisect.bisect_left(starts, start)
            # Only the neighbours can overlap a span among sorted, disjoint ones.
            if (i > 0 and taken[i - 1].end > start) or (i < len(taken) and taken[i].start < end):
                continue
            taken.insert(i, PiiSpan(kind, start, end))
            starts.insert(i, start)
    return taken


@dataclass(frozen=True, slots=True)
class Redacted:
    """A redacted text and how many values of each kind were replaced (never the values)."""

    text: str
    counts: Counter[str]


class Redactor:
    """Replaces personal data in texts: ``mode="placeholder"`` writes ``<EMAIL>``, ``<PHONE>``, ...;
    ``"remove"`` drops the value; ``"hash"`` writes ``<EMAIL:1f2e3d4c5b6a>``, a keyed HMAC-SHA256 of
    the value, so equal values stay linkable without being readable (unkeyed, a nine-digit SSN
    would be found again by hashing all 10^9 of them).

    Example::

        Redactor(kinds=("email",)).redact("write to jo@example.com").text  # 'write to <EMAIL>'
    """

    def __init__(
        self,
        kinds: Sequence[PiiKind] = PII_KINDS,
        mode: RedactMode = "placeholder",
        *,
        hash_key: bytes = b"",
        region: str = "US",
    ) -> None:
        unknown = sorted(set(kinds) - set(PII_KINDS))
        if unknown:
            raise ConfigError(f"unknown PII kind(s) {unknown}; known: {', '.join(PII_KINDS)}")
        if mode == "hash" and not hash_key:
            raise ConfigError(
                "PII mode 'hash' needs a secret key (cleaning.pii.hash_key): unkeyed hashes of "
                "short values such as SSNs can be reversed by trying them all"
            )
        self.kinds = tuple(kinds)
        self.mode = mode
        self.hash_key = hash_key
        self.region = region

    def _replacement(self, kind: str, value: str) -> str:
        if self.mode == "remove":
            return ""
        label = kind.upper()
        if self.mode == "hash":
            digest = hmac.new(self.hash_key, value.encode(), hashlib.sha256).hexdigest()[:12]
            return f"<{label}:{digest}>"
        return f"<{label}>"

    def redact(self, text: str) -> Redacted:
        """``text`` with every finding replaced, and the count per kind."""
        counts: Counter[str] = Counter()
        if not text:
            return Redacted(text, counts)
        spans = find_pii(text, self.kinds, self.region)
        if not spans:
            return Redacted(text, counts)
        parts: list[str] = []
        at = 0
        for s in spans:
            parts.append(text[at : s.start])
            parts.append(self._replacement(s.kind, text[s.start : s.end]))
            counts[s.kind] += 1
            at = s.end
        parts.append(text[at:])
        out = "".join(parts)
        if self.mode == "remove":
            # A removed value leaves its neighbours' spaces behind.
            out = re.sub(r" {2,}", " ", out)
        return Redacted(out, counts)
