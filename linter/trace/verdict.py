"""What a trace says about one finding: confirmed, refuted or inconclusive, and why.

Checks build these in their ``confirm`` methods; kept free of torch so that importing a check
never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

CONFIRMED = "confirmed"
REFUTED = "refuted"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    status: str  # CONFIRMED, REFUTED or INCONCLUSIVE
    evidence: str  # one line: the measurement, in words a user can check

    def as_json(self, device: Optional[str]) -> dict:
        """``device``: where the measurement ran; None when nothing was measured for it."""
        return {"status": self.status, "evidence": self.evidence, "device": device}


def unconfirmable(check) -> Verdict:
    """The verdict on a finding of a check that states no confirmation: nothing is measured."""
    return inconclusive(f"{check.name} has no trace confirmation")


def confirmed(evidence: str) -> Verdict:
    return Verdict(CONFIRMED, evidence)


def refuted(evidence: str) -> Verdict:
    return Verdict(REFUTED, evidence)


def inconclusive(evidence: str) -> Verdict:
    return Verdict(INCONCLUSIVE, evidence)


#: The healthy bands confirmations judge against (the DL4J troubleshooting guide's rules of thumb).
HEALTHY_STD = (0.5, 2.0)  # activation standard deviation per layer
HEALTHY_UPDATE = (1e-4, 1e-2)  # mean |update| / mean |parameter| after one step
EXP_LIMIT = 88.7  # float32 exp overflows above this
