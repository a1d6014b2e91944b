"""A generated, labelled set for PII redaction: sentences with planted personal data of each kind
(with its exact character span) and hard negatives that look like it (order and tracking numbers,
dates, version strings, ISBNs, IMEIs, non-Luhn 16-digit numbers, IBANs with wrong check digits,
SSNs outside the valid ranges, MAC addresses, clock times, file names with an @).

Deterministic for a seed: tune on one seed, report on another (bench/pii_quality.py).

    from pii_data import generate
    samples = generate(seed=1, n=2000)   # [Sample(text, [(kind, start, end), ...]), ...]
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

KINDS = ("email", "phone", "credit_card", "iban", "ssn", "ip_address", "person")
# Spans labelled "negative" are the hard negatives: nothing may be found in them.

FIRST = [
    "maria",
    "james",
    "wei",
    "fatima",
    "olga",
    "pierre",
    "aiko",
    "carlos",
    "nina",
    "kwame",
    "lena",
    "omar",
]
LAST = [
    "garcia",
    "smith",
    "chen",
    "haddad",
    "petrova",
    "dubois",
    "tanaka",
    "silva",
    "berg",
    "mensah",
    "novak",
]
DOMAINS = ["example.com", "mail.example.org", "uni-bonn.de", "acme.co.uk", "post.example.net", "corp.io"]
# Area codes in service (NANP), so the numbers are ones a document could really hold.
US_AREAS = [
    "212",
    "415",
    "312",
    "617",
    "206",
    "303",
    "512",
    "713",
    "305",
    "404",
    "202",
    "503",
    "702",
    "801",
    "919",
]


@dataclass
class Sample:
    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)


class _Builder:
    """Joins text pieces, recording the spans of the labelled ones."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[str, int, int]] = []
        self.at = 0

    def text(self, s: str) -> None:
        self.parts.append(s)
        self.at += len(s)

    def value(self, kind: str, s: str) -> None:
        self.spans.append((kind, self.at, self.at + len(s)))
        self.text(s)

    def sample(self) -> Sample:
        return Sample("".join(self.parts), self.spans)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice(
        [f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}", f"{first}+news"]
    )
    out = f"{local}@{rng.choice(DOMAINS)}"
    return out.upper() if rng.random() < 0.05 else out


def phone(rng: random.Random) -> str:
    area, exch, line = rng.choice(US_AREAS), str(rng.randint(2, 9)) + _digits(rng, 2), _digits(rng, 4)
    style = rng.randrange(11)
    if style == 8:
        return f"{area}{exch}{line}"
    if style == 9:
        return f"+1 ({area}) {exch}-{line}"
    if style == 10:
        return f"{area} {exch} {line}"
    if style == 0:
        return f"({area}) {exch}-{line}"
    if style == 1:
        return f"{area}-{exch}-{line}"
    if style == 2:
        return f"{area}.{exch}.{line}"
    if style == 3:
        return f"+1 {area} {exch} {line}"
    if style == 4:
        return f"+1-{area}-{exch}-{line}"
    if style == 5:
        return f"+44 20 7{_digits(rng, 3)} {_digits(rng, 4)}"
    if style == 6:
        return f"+49 30 {rng.randint(2, 9)}{_digits(rng, 6)}"
    return f"+33 1 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}"


def card_number(rng: random.Random, valid: bool = True) -> str:
    brand = rng.randrange(4)
    if brand == 0:
        body = "4" + _digits(rng, 14)
    elif brand == 1:
        body = str(rng.randint(51, 55)) + _digits(rng, 13)
    elif brand == 2:
        body = rng.choice(["34", "37"]) + _digits(rng, 12)
    else:
        body = "6011" + _digits(rng, 11)
    check = _luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return body + check


def card(rng: random.Random) -> str:
    digits = card_number(rng)
    style = rng.randrange(3)
    if style == 0:
        return digits
    sep = " " if style == 1 else "-"
    if len(digits) == 15:  # American Express prints 4-6-5
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


_IBAN_BBAN = {
    "DE": lambda r: _digits(r, 18),
    "GB": lambda r: "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + _digits(r, 14),
    "FR": lambda r: _digits(r, 23),
    "NL": lambda r: "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + _digits(r, 10),
    "ES": lambda r: _digits(r, 20),
    "CH": lambda r: _digits(r, 17),
    "IT": lambda r: r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + _digits(r, 22),
}


def iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(sorted(_IBAN_BBAN))
    bban = _IBAN_BBAN[country](rng)
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    if not valid:
        check = rng.choice([c for c in range(2, 99) if c != check])
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def ssn(rng: random.Random, valid: bool = True) -> tuple[str, str, str]:
    if valid:
        area = rng.choice([a for a in range(1, 900) if a != 666])
        return f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"
    bad = rng.randrange(4)
    area = rng.choice([0, 666, rng.randint(900, 999)]) if bad < 2 else rng.randint(1, 899)
    group = 0 if bad == 2 else rng.randint(1, 99)
    serial = 0 if bad == 3 else rng.randint(1, 9999)
    return f"{area:03d}", f"{group:02d}", f"{serial:04d}"


def ip(rng: random.Random) -> str:
    style = rng.randrange(5)
    if style == 4:
        return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if style == 0:
        return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if style == 1:
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if style == 2:
        return ":".join(groups)
    return f"2001:db8::{groups[0]}:{groups[1]}"


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}"


def _negative(rng: random.Random) -> str:
    """A hard negative: something a careless pattern would take for PII."""
    k = rng.randrange(16)
    if k == 0:
        return f"order #{_digits(rng, 5)}-{_digits(rng, 5)}"
    if k == 1:
        return f"order number {rng.randint(1, 9)}{_digits(rng, 9)}"
    if k == 2:
        return f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if k == 3:
        return f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1990, 2030)}"
    if k == 4:
        return f"version {rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}"
    if k == 5:
        return f"v{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 30)}"
    if k == 6:
        body = "978" + _digits(rng, 9)
        check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
        return f"ISBN {body[:3]}-{body[3]}-{body[4:6]}-{body[6:12]}-{check}"
    if k == 7:
        digits = card_number(rng, valid=False)
        return f"tracking number {' '.join(digits[i : i + 4] for i in range(0, len(digits), 4))}"
    if k == 8:
        body = "35" + _digits(rng, 12)
        return f"IMEI {body}{_luhn_digit(body)}"
    if k == 9:
        return f"account {iban(rng, valid=False)}"
    if k == 10:
        a, g, s = ssn(rng, valid=False)
        return f"reference {a}-{g}-{s}"
    if k == 11:
        return ":".join(f"{rng.randint(0, 255):02X}" for _ in range(6))
    if k == 12:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if k == 13:
        return f"icon@{rng.randint(2, 3)}x.png"
    if k == 14:
        return f"${rng.randint(1, 999)},{_digits(rng, 3)},{_digits(rng, 3)}.{_digits(rng, 2)}"
    return f"SKU {rng.choice('ABCDEFGH')}{rng.choice('ABCDEFGH')}-{_digits(rng, 4)}-{_digits(rng, 4)}"


_TEMPLATES = {
    "email": [
        "Please write to {} about the invoice",
        "Contact: {}",
        "cc {} on the thread",
        "<{}>",
        "(mailto:{})",
    ],
    "phone": ["Call {} after 5 pm", "Phone: {}", "reachable at {} or by mail", "fax {}"],
    "credit_card": ["Card number {} was charged", "paid with {}", "CC: {}", "card:{}"],
    "iban": ["Transfer the deposit to {}", "IBAN: {}", "bank account {} (Sparkasse)"],
    "ssn": ["SSN {} on file", "Social security number: {}", "her SSN is {}"],
    "ip_address": [
        "Login from {} was blocked",
        "the server at {} answered",
        "client IP {}",
        "open http://{}/status",
    ],
    "person": ["Signed by {} on behalf of the board", "{} approved the request", "Dear {},"],
}
_FILLER = [
    "The committee met on Tuesday.",
    "See section 4 for the details.",
    "Shipping takes three to five days.",
    "The report was filed late.",
    "Nothing else changed since the last review.",
]


def generate(seed: int, n: int = 2000) -> list[Sample]:
    """``n`` samples: each one to three sentences, each sentence with one planted value (1 in 3
    of the samples also hold hard negatives; 1 in 5 hold only hard negatives)."""
    rng = random.Random(seed)
    makers = {
        "email": email,
        "phone": phone,
        "credit_card": card,
        "iban": iban,
        "ip_address": ip,
        "person": person,
    }
    out: list[Sample] = []
    for _ in range(n):
        b = _Builder()
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 3)):
                b.text(f"{rng.choice(_FILLER)[:-1]}, ")
                b.value("negative", _negative(rng))
                b.text(". ")
            out.append(b.sample())
            continue
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(list(_TEMPLATES))
            before, after = rng.choice(_TEMPLATES[kind]).split("{}")
            if kind == "ssn":
                a, g, s = ssn(rng)
                style = rng.random()
                if style < 0.7 or "SSN" not in before:
                    value = f"{a}-{g}-{s}" if style < 0.6 else f"{a} {g} {s}"
                else:
                    value = f"{a}{g}{s}"
            else:
                value = makers[kind](rng)
            b.text(before)
            b.value(kind, value)
            b.text(after + ". ")
            if rng.random() < 0.33:
                b.text("Also ")
                b.value("negative", _negative(rng))
                b.text(". ")
        out.append(b.sample())
    return out
