"""Personal-data detection and the privacy policy that keeps sensitive requests on local models.

:func:`detect_sensitive` finds, with precompiled regular expressions and a checksum wherever the
format has one (so ordinary numbers are not mistaken for personal data):

==============  =========================================================================
kind            what, and how it is confirmed
==============  =========================================================================
``email``       e-mail addresses
``phone``       ``+``-prefixed international numbers (8-15 digits), North American
                ``(555) 123-4567`` / ``555-123-4567`` / ``555.123.4567``, national numbers with a
                trunk ``0`` (``020 7946 0958``, ``07700 900123``), and any number after a word
                like *phone*, *tel*, *mobile*, *fax*
``iban``        IBANs of the SWIFT registry's countries: exact length, mod-97 check
``card``        payment card numbers, 13-19 digits (spaces or dashes allowed): issuer prefix
                and Luhn check
``national_id`` US Social Security numbers (``123-45-6789``, or 9 digits after *SSN*), UK
                National Insurance numbers, Spanish DNI/NIE (check letter), Indian Aadhaar
                (``1234 5678 9012``, Verhoeff check)
==============  =========================================================================

A :class:`PrivacyPolicy` (one per :class:`~fusionsdk.providers.hub.ModelHub`) combines the
detectors with the explicit ``sensitive: true`` run metadata; the adapter asks it before any
hosted model is called. Detectors are pluggable: anything with a ``name`` and a
``detect(text) -> list[Finding]`` method (:class:`SensitivityDetector`).

Example:
    >>> [f.kind for f in detect_sensitive("Mail jane.doe@example.com, card 4111 1111 1111 1111")]
    ['email', 'card']
    >>> detect_sensitive("Janet's ducks lay 16 eggs per day and she sells them for $2.")
    []
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from fusionsdk.config.privacy import DETECTOR_KINDS, PrivacySpec
from fusionsdk.errors import ConfigError

__all__ = [
    "SENSITIVE_KEY",
    "SENSITIVE_KINDS_KEY",
    "BuiltinDetector",
    "Finding",
    "PrivacyPolicy",
    "Sensitivity",
    "SensitivityDetector",
    "detect_sensitive",
    "request_strings",
    "sensitive_flag",
]

#: Run-metadata key that marks a request sensitive (``True``).
SENSITIVE_KEY = "sensitive"
#: Run-metadata key listing what made it sensitive (kinds only, never the data).
SENSITIVE_KINDS_KEY = "sensitive_kinds"


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data found in a text (its position, never a copy of it).

    Attributes:
        kind: ``email``, ``phone``, ``iban``, ``card`` or ``national_id`` (or a custom
            detector's kind).
        start: Offset of the first character.
        end: Offset after the last character.
        detail: A finer label (``us_ssn``, ``uk_nino``, ``visa``, the IBAN country, ...).
    """

    kind: str
    start: int
    end: int
    detail: str = ""


@runtime_checkable
class SensitivityDetector(Protocol):
    """What a detector is: a name and a ``detect`` method. Keep ``detect`` fast: the adapter
    runs it on every prompt bound for a hosted model."""

    name: str

    def detect(self, text: str) -> list[Finding]:
        """The personal data in ``text``; empty when there is none."""
        ...


# -- checksums ------------------------------------------------------------------------------------

# SWIFT IBAN registry: country -> IBAN length.
_IBAN_REGISTRY = (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 "
    "DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 "
    "IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 "
    "MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 "
    "SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30"
)
_IBAN_LENGTHS = {item[:2]: int(item[2:]) for item in _IBAN_REGISTRY.split(" ")}
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_VERHOEFF_D = ("0123456789", "1234067895", "2340178956", "3401289567", "4012395678",
               "5987604321", "6598710432", "7659821043", "8765932104", "9876543210")  # fmt: skip
_VERHOEFF_P = ("0123456789", "1576283094", "5803796142", "8916043527",
               "9453126870", "4286573901", "2793806415", "7046913258")  # fmt: skip


def iban_valid(compact: str) -> bool:
    """Whether ``compact`` (no spaces, upper case) has its country's length and passes mod-97."""
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of card numbers."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def verhoeff_valid(digits: str) -> bool:
    """The Verhoeff check of Aadhaar numbers."""
    check = 0
    for i, char in enumerate(reversed(digits)):
        check = int(_VERHOEFF_D[check][int(_VERHOEFF_P[i % 8][int(char)])])
    return check == 0


def card_issuer(digits: str) -> str | None:
    """The card network whose prefix and length ``digits`` has, or None."""
    n, two, four = len(digits), int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return "visa" if n in (13, 16, 19) else None
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard" if n == 16 else None
    if two in (34, 37):
        return "amex" if n == 15 else None
    if n < 14:
        return None
    if digits.startswith("6011") or two == 65 or 644 <= int(digits[:3]) <= 649:
        return "discover"
    if 3528 <= four <= 3589:
        return "jcb"
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return "diners"
    if two == 62:
        return "unionpay"
    if two == 50 or 56 <= two <= 69:
        return "maestro"
    return None


# -- the built-in detector ------------------------------------------------------------------------

# Every numeric kind has at least 6 digits close together (separated by at most two of
# " ().-"): texts without such a cluster skip the detailed patterns.
_DENSE = re.compile(r"\d(?:[ ().-]{0,2}\d){5,}")
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,31}")
_CARD = re.compile(r"(?<![\d.,-])\d(?:[ -]?\d){12,22}(?![\d])")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?!\d)")
_PHONE_NANP = re.compile(r"(?<![\w.-])(?:\([2-9]\d\d\) ?|[2-9]\d\d([.-]))\d{3}(?(1)\1|[.-])\d{4}(?![\w-])")
_PHONE_TRUNK = re.compile(r"(?<![\w+.,-])(?:0[1-9]\d{1,3}[ -]\d{3,4}[ -]?\d{3,4}|07\d{9})(?![\w-])")
_PHONE_CUE = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|fax|whatsapp)\b\D{0,4}?(\+?\d[\d ().-]{5,18}\d)", re.IGNORECASE
)
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d\d\1(?!0000)\d{4}(?![\d-])")
_SSN_CUE = re.compile(r"\b(?:ssn|social security(?: number| no\.?)?)\W{0,4}(\d{9})\b", re.IGNORECASE)
_NINO = re.compile(
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d\d ?\d\d ?\d\d ?[A-D]\b"
)
_DNI = re.compile(r"\b([XYZ]-?)?(\d{7,8})-?([A-Z])\b")
_AADHAAR = re.compile(r"(?<![\d-])[2-9]\d{3} \d{4} \d{4}(?![\d-])")


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _find_emails(text: str) -> Iterator[Finding]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield Finding("email", m.start(), m.end())


def _find_ibans(text: str) -> Iterator[Finding]:
    for m in _IBAN.finditer(text):
        length = _IBAN_LENGTHS.get(m.group()[:2])
        compact = m.group().replace(" ", "")
        if length is None or len(compact) < length or not iban_valid(compact[:length]):
            continue
        end, seen = m.start(), 0  # the span of exactly ``length`` characters, spaces between
        while seen < length:
            seen += text[end] != " "
            end += 1
        yield Finding("iban", m.start(), end, compact[:2])


def _find_cards(text: str) -> Iterator[Finding]:
    for m in _CARD.finditer(text):
        digits = _digits(m.group())
        for n in (16, 15, 19, 18, 17, 14, 13):  # a card number glued to a following number
            if n <= len(digits) and (issuer := card_issuer(digits[:n])) and luhn_valid(digits[:n]):
                yield Finding("card", m.start(), m.end(), issuer)
                break


def _find_phones(text: str) -> Iterator[Finding]:
    for m in _PHONE_INTL.finditer(text):
        if 8 <= len(_digits(m.group())) <= 15:
            yield Finding("phone", m.start(), m.end(), "international")
    for pattern, detail in ((_PHONE_NANP, "nanp"), (_PHONE_TRUNK, "national")):
        for m in pattern.finditer(text):
            yield Finding("phone", m.start(), m.end(), detail)
    for m in _PHONE_CUE.finditer(text):
        if 7 <= len(_digits(m.group(1))) <= 15:
            yield Finding("phone", m.start(1), m.end(1), "labelled")


def _find_national_ids(text: str) -> Iterator[Finding]:
    for m in _SSN.finditer(text):
        yield Finding("national_id", m.start(), m.end(), "us_ssn")
    for m in _SSN_CUE.finditer(text):
        yield Finding("national_id", m.start(1), m.end(1), "us_ssn")
    for m in _NINO.finditer(text):
        yield Finding("national_id", m.start(), m.end(), "uk_nino")
    for m in _DNI.finditer(text):
        prefix, number, letter = m.group(1), m.group(2), m.group(3)
        if prefix:  # NIE: X/Y/Z and 7 digits
            value = "XYZ".index(prefix[0]) * 10**7 + int(number)
            if len(number) == 7 and _DNI_LETTERS[value % 23] == letter:
                yield Finding("national_id", m.start(), m.end(), "es_nie")
        elif len(number) == 8 and _DNI_LETTERS[int(number) % 23] == letter:
            yield Finding("national_id", m.start(), m.end(), "es_dni")
    for m in _AADHAAR.finditer(text):
        if verhoeff_valid(_digits(m.group())):
            yield Finding("national_id", m.start(), m.end(), "in_aadhaar")


_FINDERS: dict[str, Callable[[str], Iterator[Finding]]] = {
    "email": _find_emails,
    "phone": _find_phones,
    "iban": _find_ibans,
    "card": _find_cards,
    "national_id": _find_national_ids,
}


class BuiltinDetector:
    """The regular-expression-and-checksum detector (see the module docstring for the kinds).

    Args:
        kinds: Which kinds to look for (all by default).
    """

    name = "builtin"

    def __init__(self, kinds: Iterable[str] = DETECTOR_KINDS) -> None:
        self.kinds = tuple(kinds)
        self._numeric = [_FINDERS[kind] for kind in self.kinds if kind != "email"]
        self._email = "email" in self.kinds

    def detect(self, text: str) -> list[Finding]:
        """Findings in ``text``, in order of position."""
        finders: list[Callable[[str], Iterator[Finding]]] = []
        if self._email and "@" in text:
            finders.append(_find_emails)
        if self._numeric and _DENSE.search(text) is not None:
            finders += self._numeric
        if not finders:
            return []  # most prompts stop here: no "@" and no long number
        found = sorted((f for finder in finders for f in finder(text)), key=_position)
        kept: list[Finding] = []
        for finding in found:  # one finding per stretch of text and kind
            if not any(k.kind == finding.kind and k.end > finding.start for k in kept[-4:]):
                kept.append(finding)
        return kept


def _position(finding: Finding) -> tuple[int, int]:
    return finding.start, -finding.end


_DEFAULT = BuiltinDetector()


def detect_sensitive(text: str) -> list[Finding]:
    """Every personal-data finding of the built-in detector in ``text`` (all kinds)."""
    return _DEFAULT.detect(text)


# -- the policy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sensitivity:
    """Why a request is sensitive.

    Attributes:
        source: ``metadata`` (the run said ``sensitive: true``), ``detector``, or ``thread``
            (an earlier step or run of the same thread saw sensitive data).
        kinds: The kinds found (``email``, ...), or those the metadata listed.
    """

    source: Literal["metadata", "detector", "thread"]
    kinds: tuple[str, ...] = ()

    def as_metadata(self) -> dict[str, Any]:
        """The run-metadata keys recording it (never the data itself)."""
        return {SENSITIVE_KEY: True, SENSITIVE_KINDS_KEY: list(self.kinds)}


def sensitive_flag(metadata: Mapping[str, Any] | None) -> bool:
    """The run metadata's ``sensitive`` flag: ``True``, ``False`` or absent (False).

    Raises:
        ConfigError: The flag is anything but a bool (``"true"``, ``1``, ``None``...): guessing
            what such a value meant could send sensitive data to a hosted model.
    """
    if not metadata or SENSITIVE_KEY not in metadata:
        return False
    value = metadata[SENSITIVE_KEY]
    if not isinstance(value, bool):
        raise ConfigError(
            f"must be true or false (a bool), got {type(value).__name__} {str(value)[:20]!r}",
            path=f"metadata.{SENSITIVE_KEY}",
        )
    return value


def _strings(value: Any, out: list[str], depth: int = 0) -> None:
    """Every string in ``value`` (keys of mappings too), however deeply nested."""
    if isinstance(value, str):
        out.append(value)
    elif depth > 64:
        out.append(repr(value))  # absurd nesting: scan its text rather than skip it
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _strings(key, out, depth + 1)
            _strings(item, out, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _strings(item, out, depth + 1)
    elif isinstance(value, (bytes, bytearray)):
        out.append(bytes(value).decode("utf-8", "replace"))


def request_strings(messages: Sequence[Mapping[str, Any]], *extra: Any) -> str:
    """The text of every field that reaches a provider: each message's content (multimodal
    parts too), ``name``, tool calls and their arguments, and any further values (``stop``,
    backend ``extra`` parameters that may replace the messages), joined by newlines."""
    parts: list[str] = []
    _strings(list(messages), parts)
    for value in extra:
        _strings(value, parts)
    return "\n".join(parts)


class PrivacyPolicy:
    """Decides whether a request is sensitive: explicitly flagged, or found by a detector.

    Args:
        spec: The config's ``privacy`` section (defaults: detect with the built-in detector).
        detectors: Detectors to use instead of those ``spec`` names.

    Example:
        >>> policy = PrivacyPolicy()
        >>> policy.assess("Call me on +44 20 7946 0958", {}).kinds
        ('phone',)
    """

    def __init__(
        self, spec: PrivacySpec | None = None, detectors: Sequence[SensitivityDetector] | None = None
    ) -> None:
        self.spec = spec or PrivacySpec()
        if detectors is None:
            names = set(self.spec.detectors)
            kinds = DETECTOR_KINDS if "builtin" in names else [k for k in DETECTOR_KINDS if k in names]
            detectors = [_DEFAULT if tuple(kinds) == DETECTOR_KINDS else BuiltinDetector(kinds)]
        self.detectors: list[SensitivityDetector] = list(detectors)

    def add_detector(self, detector: SensitivityDetector) -> None:
        """Run ``detector`` too (e.g. a Presidio-based one), for every model of the hub."""
        if not isinstance(detector, SensitivityDetector):
            raise TypeError(f"{detector!r} has no name and detect(text) method")
        self.detectors.append(detector)

    def scan(self, text: str) -> list[Finding]:
        """Every detector's findings in ``text`` (none when detection is off)."""
        if not self.spec.detect:
            return []
        return [f for detector in self.detectors for f in detector.detect(text)]

    def assess(self, text: str, metadata: Mapping[str, Any] | None) -> Sensitivity | None:
        """Why the request is sensitive, or None when it is not."""
        if sensitive_flag(metadata):
            assert metadata is not None
            return Sensitivity("metadata", tuple(metadata.get(SENSITIVE_KINDS_KEY) or ()))
        findings = self.scan(text)
        if not findings:
            return None
        return Sensitivity("detector", tuple(dict.fromkeys(f.kind for f in findings)))

    def assess_messages(
        self, messages: Sequence[Mapping[str, Any]], metadata: Mapping[str, Any] | None, *extra: Any
    ) -> Sensitivity | None:
        """:meth:`assess` over every field of chat messages (see :func:`request_strings`) and
        any ``extra`` values sent with them (``stop``, backend parameters)."""
        if sensitive_flag(metadata):
            return self.assess("", metadata)
        return self.assess(request_strings(messages, *extra), metadata)
