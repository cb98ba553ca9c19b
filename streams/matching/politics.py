"""Candidates and parties as venues name them: full names, surnames, nicknames, party words.

`yes_side(title, outcome, a, b)` says which of a race's two candidates (each a
name and a party) a market's YES backs, or None when it names neither or both.
Pure: discovery wiring waits for politics race events (README, "Politics").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

#: Common nicknames -> given names (lower case), for matching "Hillary", "Bernie", "Joe".
NICKNAMES = {"bernie": "bernard", "joe": "joseph", "bill": "william", "ted": "rafael", "mike": "michael", "don": "donald", "jeb": "john"}
PARTY_WORDS = {
    "democratic": ("democratic", "democrat", "democrats", "dem", "dems", "d"),
    "republican": ("republican", "republicans", "gop", "rep", "r"),
    "libertarian": ("libertarian", "lp", "l"),
    "green": ("green", "g"),
}
_PARTY = {w: party for party, words in PARTY_WORDS.items() for w in words}


@dataclass(frozen=True)
class Candidate:
    name: str  # "Hillary Clinton"
    party: str  # "Democratic"


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower().replace("’", "'").replace("'s", ""))


def names_candidate(text: str, c: Candidate) -> bool:
    """The text names the candidate: surname, full name, or a given name/nickname that is theirs."""
    toks = _tokens(text)
    parts = _tokens(c.name)
    if not parts:
        return False
    surname, given = parts[-1], parts[0]
    if surname in toks:
        return True
    if any(NICKNAMES.get(t) == given or t == given for t in toks) and len(given) > 3:
        return True
    return fuzz.partial_ratio(c.name.lower(), text.lower()) >= 92


def names_party(text: str, c: Candidate) -> bool:
    party = _PARTY.get(c.party.lower(), c.party.lower())
    return any(_PARTY.get(t) == party for t in _tokens(text) if len(t) > 1 or text.strip().lower() == t)


def yes_side(title: str, outcome: str, a: Candidate, b: Candidate) -> str | None:
    """"a" or "b" when the market's YES backs one of them (its outcome first, then its title)."""
    for text in (outcome, title):
        if not text:
            continue
        for names in (names_candidate, names_party):  # a named candidate outranks a party word
            hits = {role for role, c in (("a", a), ("b", b)) if names(text, c)}
            if len(hits) == 1:
                return hits.pop()
            if len(hits) == 2:
                break  # names both: not this text
    return None
