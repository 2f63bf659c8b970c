"""Certificate numbers (pure, no Django): "TC-7K3M-9QX2-41".

Eight random Crockford base-32 characters (40 bits; no I, L, O or U, so they read back unambiguously) and two
check digits by ISO 7064 MOD 97-10 over the characters' value, so any single mistyped character and any swap of
two neighbouring characters is caught before the number is even looked up.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "TC"
BODY_LENGTH = 8
# What people type by mistake for a character that is not in the alphabet.
_READS_AS = {"O": "0", "I": "1", "L": "1"}


def _value(body: str) -> int:
    value = 0
    for ch in body:
        value = value * 32 + ALPHABET.index(ch)
    return value


def check_digits(body: str) -> str:
    return f"{98 - (_value(body) * 100) % 97:02d}"


def format_number(body: str) -> str:
    return f"{PREFIX}-{body[:4]}-{body[4:]}-{check_digits(body)}"


def new_number(randbits=secrets.randbits) -> str:
    """A fresh random number (uniqueness is the caller's job: the database refuses a duplicate)."""
    value = randbits(5 * BODY_LENGTH)
    body = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(BODY_LENGTH)))
    return format_number(body)


def normalize(text: str) -> str | None:
    """The canonical form of a typed number, or None when it is not well-formed or its check digits fail."""
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum())
    if raw.startswith(PREFIX):
        raw = raw[len(PREFIX):]
    if len(raw) != BODY_LENGTH + 2:
        return None
    body = "".join(_READS_AS.get(ch, ch) for ch in raw[:BODY_LENGTH])
    digits = raw[BODY_LENGTH:]
    if not (digits.isascii() and digits.isdigit()) or any(ch not in ALPHABET for ch in body):
        return None
    if (_value(body) * 100 + int(digits)) % 97 != 1:
        return None
    return format_number(body)


def is_valid(text: str) -> bool:
    return normalize(text) is not None
