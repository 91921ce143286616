"""The one grammar of a decimal written as text, wherever one comes in (answers, thresholds, rules,
coordinates): ASCII digits, an optional leading minus and an optional fraction after a dot.

Python's Decimal() reads far more ("1_000", " 4.3 ", "4.2e0", "+5", ".5", "NaN", full-width "１２" or
Arabic-Indic "١٢" digits); a client reading less (the field app) would then disagree with the server on
what was written. The field app's parseDecimal (field/src/scoring.ts) takes exactly this grammar.
"""
from __future__ import annotations

import re
from decimal import Decimal

# [0-9], not \d: \d matches every script's digits.
DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def decimal_text(value: str) -> Decimal | None:
    """The Decimal a text in the grammar stands for; None for any other text."""
    return Decimal(value) if isinstance(value, str) and DECIMAL_TEXT.fullmatch(value) else None
