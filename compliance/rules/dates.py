"""Birth dates: FollowTheMoney's partial dates and how agreement moves a name score.

Lists give a birth date to the day, the month or only the year ("1970", "1970-05",
"1970-05-21"), and often several of them. The adjustment is taken from the entry date that agrees
best. Points on the 0..100 scale, after yente's default algorithm (nomenklatura `logic-v1`:
`dob_day_disjoint` -0.20, `dob_year_disjoint` -0.15, a day/month swap counting half):

    same date, at the entry's precision      day +5, month +3, year +2
    day and month swapped (both <= 12)       -10
    same year, different month or day        -20
    different year                           -35  (year and day disagree: -0.15 - 0.20)

So an exact name (100) with another birth year scores 65, under the alert threshold, as in yente;
an exact name without any birth date to compare stays at 100.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

DAY_MATCH_BONUS = 5
MONTH_MATCH_BONUS = 3
YEAR_MATCH_BONUS = 2
SWAPPED_PENALTY = -10
DAY_MISMATCH_PENALTY = -20
YEAR_MISMATCH_PENALTY = -35

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True, slots=True)
class PartialDate:
    year: int
    month: int | None = None
    day: int | None = None

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
            if self.day is not None:
                text += f"-{self.day:02d}"
        return text


def parse_partial_date(text: str) -> PartialDate | None:
    """ "1970", "1970-05" or "1970-05-21" (anything after the date, such as a time, is ignored);
    None for anything else, including impossible months and days."""
    match = _PARTIAL_DATE.match(text.strip())
    if match is None:
        return None
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    try:
        if day is not None and month is not None:
            date(year, month, day)
        elif month is not None and not 1 <= month <= 12:
            return None
    except ValueError:
        return None
    return PartialDate(year, month, day)


@dataclass(frozen=True, slots=True)
class DateAdjustment:
    points: int
    reason: str


NO_DATES = DateAdjustment(0, "")


def _compare(query: date, entry: PartialDate) -> DateAdjustment:
    if entry.year != query.year:
        return DateAdjustment(YEAR_MISMATCH_PENALTY, f"birth year differs ({entry} vs {query.isoformat()})")
    if entry.month is None:
        return DateAdjustment(YEAR_MATCH_BONUS, f"birth year {entry} agrees")
    if entry.day is None:
        if entry.month == query.month:
            return DateAdjustment(MONTH_MATCH_BONUS, f"birth month {entry} agrees")
        return DateAdjustment(DAY_MISMATCH_PENALTY, f"birth month differs ({entry} vs {query.isoformat()})")
    if (entry.month, entry.day) == (query.month, query.day):
        return DateAdjustment(DAY_MATCH_BONUS, f"birth date {entry} agrees")
    if (entry.month, entry.day) == (query.day, query.month):
        return DateAdjustment(SWAPPED_PENALTY, f"birth date {entry} has day and month swapped")
    return DateAdjustment(DAY_MISMATCH_PENALTY, f"birth date differs ({entry} vs {query.isoformat()})")


def birth_date_adjustment(query: date | None, entry_dates: Iterable[str]) -> DateAdjustment:
    """The best agreement between `query` and any of the entry's dates; zero without dates."""
    if query is None:
        return NO_DATES
    best: DateAdjustment | None = None
    for text in entry_dates:
        parsed = parse_partial_date(text)
        if parsed is None:
            continue
        adjustment = _compare(query, parsed)
        if best is None or adjustment.points > best.points:
            best = adjustment
    return best or NO_DATES
