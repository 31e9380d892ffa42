"""The ``privacy:`` section of a config: :class:`PrivacySpec`.

Example::

    privacy:
      detect: true               # scan every task (and every prompt bound for a hosted model)
      detectors: [builtin]       # or a subset: [email, phone, iban, card, national_id]
      on_violation: error        # refuse the call with PrivacyViolation (the only mode)

A request is sensitive when its run metadata says ``sensitive: true`` or a detector finds
personal data in it. A sensitive request may only reach models with ``locality: local``.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DETECTOR_KINDS", "DETECTOR_NAMES", "DetectorName", "PrivacySpec"]

#: Names ``privacy.detectors`` accepts: ``builtin`` (every kind) or single kinds.
DetectorName = Literal["builtin", "email", "phone", "iban", "card", "national_id"]
DETECTOR_NAMES: tuple[str, ...] = get_args(DetectorName)
#: What the built-in detector finds, each also usable alone as a detector name.
DETECTOR_KINDS: tuple[str, ...] = DETECTOR_NAMES[1:]


class PrivacySpec(BaseModel):
    """How sensitive requests are recognised and kept on local models.

    Attributes:
        detect: Run the detectors over each task and over each prompt bound for a hosted model.
            With ``false`` only an explicit ``sensitive: true`` in run metadata counts.
        detectors: Which detectors run: ``builtin`` (all kinds) or some of ``email``,
            ``phone``, ``iban``, ``card``, ``national_id``. Python code can add its own with
            ``hub.privacy.add_detector(...)``.
        on_violation: What a hosted model asked with sensitive data does: ``error`` refuses
            the call with :class:`~fusionsdk.errors.PrivacyViolation` (hosted fallbacks are
            skipped, a local one may answer).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    detect: bool = True
    detectors: tuple[DetectorName, ...] = Field(("builtin",), min_length=1)
    on_violation: Literal["error"] = "error"
