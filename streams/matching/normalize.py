"""Name normalization shared by the alias table builder and the matchers.

Venues spell the same team many ways ("St. Louis", "St Louis", "Montréal",
"Brighton & Hove Albion", "Arsenal FC"); comparing normalized forms lets one
alias row cover all of them, and Jaro-Winkler only has to absorb real typos
and truncations.
"""

from __future__ import annotations

import re
import unicodedata

#: Club-form suffixes/prefixes that carry no identity ("Toronto FC" = "Toronto").
_CLUB_TOKENS = frozenset({"fc", "afc", "sc", "cf"})
_PUNCT = re.compile(r"[^a-z0-9& ]+")
_SPACES = re.compile(r"\s+")


def normalize_name(text: str) -> str:
    """Lowercase, strip accents and punctuation, drop club tokens and a leading "the".

    "St." and "St" become "st", "D.C." becomes "dc"; "&" becomes "and"; apostrophes vanish so
    "St. John's" and "St Johns" are equal.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    ascii_text = ascii_text.replace("'", "").replace("\u2019", "").replace(".", "")
    ascii_text = ascii_text.replace("&", " and ")
    cleaned = _PUNCT.sub(" ", ascii_text)
    tokens = [t for t in _SPACES.split(cleaned) if t]
    if tokens and tokens[0] == "the":
        tokens = tokens[1:]
    kept = [t for t in tokens if t not in _CLUB_TOKENS]
    return " ".join(kept or tokens)


def normalize_code(code: str) -> str:
    """Abbreviations compare upper-case without punctuation ("ta&m" -> "TA&M", "m-oh" -> "MOH")."""
    return re.sub(r"[^A-Z0-9&]", "", code.upper())
