"""Screening a person's name and birth date against watchlist entries: scored hits with reasons.

Thresholds (0..100), and the evidence for them (tests/compliance/test_rules_calibration.py
measures both on generated populations; run it with -s for the table):

- ALERT_THRESHOLD = 80: a hit at or above it becomes an alert for an officer. At 80 every
  spelling variant of the calibration set scores at or above it (60 pairs per category): Cyrillic
  originals against ICAO, BGN, English, German, French and Polish spellings (lowest 83), with a
  typo (93), ICAO Latin against BGN/English/French (81), Arabic script against Latin spellings
  (90), Greek (81), a typo (88), an initial (92), a dropped middle name (89). Of different people,
  1.4% of pairs sharing a whole name part (a common first name) reach it and 0.007% of pairs
  sharing none (1 in 14,119). At 70 those rates are 4.3% and 0.06% for little gain in recall;
  at 90, recall on Arabic and Greek spellings drops. yente's default cut-off is 0.70 on its own
  scale; this score gives nothing to a conflicting name part, so equal recall sits higher.
  Known weak spot: a list that carries only an ICAO Latin spelling, against a German or Polish
  spelling of the same name (68% and 77% recall): lists usually carry the original script too.
- STRONG_MATCH = 95: reported in the reasons as a strong match (the same name up to accents,
  word order and transliteration, or with a birth date that agrees).
- CANDIDATE_FLOOR = 60: below it a hit is not reported at all, even when a caller asks for a lower
  threshold (tuning, reports).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from compliance.rules.dates import birth_date_adjustment
from compliance.rules.names import Forms, NameComparison, best_name_match, name_forms

ALERT_THRESHOLD = 80
STRONG_MATCH = 95
CANDIDATE_FLOOR = 60

PERSON = "Person"
ORGANIZATION = "Organization"
CRYPTO_WALLET = "CryptoWallet"

KIND_SANCTIONS = "sanctions"
KIND_PEP = "pep"
KIND_WATCHLIST = "watchlist"
KIND_ADDRESS = "address"


def hit_kind(topics: Iterable[str]) -> str:
    """sanctions (any `sanction*` topic) before pep (`role.pep`, `role.rca`), else watchlist."""
    topics = list(topics)
    if any(t.startswith("sanction") for t in topics):
        return KIND_SANCTIONS
    if any(t.startswith(("role.pep", "role.rca")) for t in topics):
        return KIND_PEP
    return KIND_WATCHLIST


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One list entity as the rules see it; `key` is the caller's id for it."""

    key: str
    schema: str
    names: tuple[str, ...]
    birth_dates: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    prepared: tuple[tuple[str, Forms], ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def build(
        cls,
        *,
        key: str,
        schema: str,
        names: Iterable[str],
        birth_dates: Iterable[str] = (),
        topics: Iterable[str] = (),
    ) -> WatchEntry:
        unique = tuple(dict.fromkeys(n for n in names if n and n.strip()))
        prepared = tuple((n, forms) for n in unique if (forms := name_forms(n)))
        return cls(key, schema, unique, tuple(birth_dates), tuple(topics), prepared)


@dataclass(frozen=True, slots=True)
class Hit:
    entry: WatchEntry
    score: int  # name score adjusted by the birth date, 0..100
    name_score: int
    matched_name: str
    kind: str
    reasons: tuple[str, ...]


def _reasons(
    query: str, matched: str, comparison: NameComparison, final: int, date_reason: str
) -> tuple[str, ...]:
    reasons = [f"name {query!r} ~ listed name {matched!r}: {comparison.score}"]
    aligned = ", ".join(
        f"{x}={y}" if similarity == 1.0 else f"{x}~{y} ({similarity:.2f})"
        for x, y, similarity in comparison.pairs
    )
    if aligned:
        reasons.append(f"aligned name parts: {aligned}")
    if comparison.unpaired:
        reasons.append(f"unmatched name parts: {', '.join(comparison.unpaired)}")
    if date_reason:
        reasons.append(date_reason)
    if final >= STRONG_MATCH:
        reasons.append("strong match")
    return tuple(reasons)


def score_entry(
    query_name: str, query_forms: Forms, birth_date: date | None, entry: WatchEntry
) -> Hit | None:
    """The hit of `entry` for the query (None when no name of it compares at all)."""
    prepared = (
        entry.prepared
        or WatchEntry.build(
            key=entry.key, schema=entry.schema, names=entry.names, birth_dates=entry.birth_dates
        ).prepared
    )
    matched, comparison = best_name_match(query_forms, prepared)
    if comparison.score == 0:
        return None
    adjustment = birth_date_adjustment(birth_date, entry.birth_dates)
    final = max(0, min(100, comparison.score + adjustment.points))
    return Hit(
        entry=entry,
        score=final,
        name_score=comparison.score,
        matched_name=matched,
        kind=hit_kind(entry.topics),
        reasons=_reasons(query_name, matched, comparison, final, adjustment.reason),
    )


def screen(
    name: str,
    birth_date: date | None,
    entries: Iterable[WatchEntry],
    *,
    threshold: int = ALERT_THRESHOLD,
    schemas: Sequence[str] = (PERSON,),
) -> list[Hit]:
    """Every entry of a schema in `schemas` scoring at least `threshold` (never under
    CANDIDATE_FLOOR), best first; compares against every entry (see ScreeningIndex for many)."""
    forms = name_forms(name)
    if not forms:
        return []
    floor = max(threshold, CANDIDATE_FLOOR)
    hits = []
    for entry in entries:
        if entry.schema not in schemas:
            continue
        hit = score_entry(name, forms, birth_date, entry)
        if hit is not None and hit.score >= floor:
            hits.append(hit)
    hits.sort(key=lambda h: (-h.score, h.entry.key))
    return hits


class ScreeningIndex:
    """Entries blocked by the phonetic keys of their name parts, for screening many names.

    A name is scored only against entries sharing at least one key of a name part of two or more
    letters: a hit needs most of its parts to agree, and parts that agree share their key, except
    for a consonant typo in every part at once. The calibration test checks that the index finds
    every hit the exhaustive `screen` finds on its populations.
    """

    def __init__(self, entries: Iterable[WatchEntry], *, schemas: Sequence[str] = (PERSON,)) -> None:
        self.entries: list[WatchEntry] = []
        self._blocks: dict[str, list[int]] = defaultdict(list)
        for entry in entries:
            if entry.schema not in schemas or not entry.prepared:
                continue
            position = len(self.entries)
            self.entries.append(entry)
            keys = {
                token.key
                for _, forms in entry.prepared
                for tokens in forms
                for token in tokens
                if len(token.text) > 1
            }
            for key in keys:
                self._blocks[key].append(position)

    def __len__(self) -> int:
        return len(self.entries)

    def candidates(self, forms: Forms) -> list[WatchEntry]:
        positions: set[int] = set()
        for tokens in forms:
            for token in tokens:
                if len(token.text) > 1:
                    positions.update(self._blocks.get(token.key, ()))
        return [self.entries[p] for p in sorted(positions)]

    def screen(self, name: str, birth_date: date | None, *, threshold: int = ALERT_THRESHOLD) -> list[Hit]:
        forms = name_forms(name)
        if not forms:
            return []
        floor = max(threshold, CANDIDATE_FLOOR)
        hits = []
        for entry in self.candidates(forms):
            hit = score_entry(name, forms, birth_date, entry)
            if hit is not None and hit.score >= floor:
                hits.append(hit)
        hits.sort(key=lambda h: (-h.score, h.entry.key))
        return hits
