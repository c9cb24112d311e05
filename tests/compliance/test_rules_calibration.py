"""The evidence for ALERT_THRESHOLD: how the score separates spellings of one person from
different people, on generated populations (compliance/fixtures/generate_sample.py's pools).

Positives are one person written two ways: a Cyrillic, Arabic or Greek original against Latin
spellings, spellings against each other, a typo, an initial, a dropped middle name. Negatives are
pairs of different generated people, split by whether they share a whole name part (a common
first name, say): those are the hard ones. `-s` prints the table the thresholds are chosen from.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from compliance.fixtures import generate_sample as sample
from compliance.rules.names import name_score, name_tokens
from compliance.rules.screening import ALERT_THRESHOLD

PER_CATEGORY = 60
LETTERS = "aeioubcdfghklmnprstvz"


def _typo(name: str, rng: random.Random) -> str:
    words = name.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 5]
    if not long_words:
        return name
    i = rng.choice(long_words)
    word, at = words[i], rng.randrange(1, len(words[i]) - 1)
    edits = {
        "substitute": lambda w: w[:at] + rng.choice(LETTERS) + w[at + 1 :],
        "delete": lambda w: w[:at] + w[at + 1 :],
        "transpose": lambda w: w[:at] + w[at + 1] + w[at] + w[at + 2 :],
        "insert": lambda w: w[:at] + rng.choice(LETTERS) + w[at:],
    }
    words[i] = edits[rng.choice(sorted(edits))](word)
    return " ".join(words)


def _cyrillic(
    scheme: str, *, listed_in_latin: bool = False, typo: bool = False
) -> Callable[[random.Random], tuple[str, str]]:
    def make(rng: random.Random) -> tuple[str, str]:
        original = sample.cyrillic_person(rng)
        variant = sample.CYRILLIC_SCHEMES[scheme](original)
        return (sample.ICAO(original) if listed_in_latin else original), (
            _typo(variant, rng) if typo else variant
        )

    return make


def _arabic(rng: random.Random) -> tuple[str, str]:
    arabic, spellings = sample.arabic_person(rng)
    return arabic, rng.choice(spellings)


def _arabic_latin(rng: random.Random) -> tuple[str, str]:
    _, spellings = sample.arabic_person(rng)
    return spellings[0], spellings[-1]


def _greek(rng: random.Random) -> tuple[str, str]:
    greek, spellings = sample.greek_person(rng)
    return greek, rng.choice(spellings)


def _latin(change: Callable[[str, random.Random], str]) -> Callable[[random.Random], tuple[str, str]]:
    def make(rng: random.Random) -> tuple[str, str]:
        name = sample.latin_person(rng)
        return name, change(name, rng)

    return make


def _initial(name: str, rng: random.Random) -> str:
    first, *rest = name.split()
    return " ".join([f"{first[0]}.", *rest])


def _drop_middle(name: str, rng: random.Random) -> str:
    words = name.split()
    return f"{words[0]} {words[-1]}"


# (category, generator, the recall at ALERT_THRESHOLD the matcher must reach)
POSITIVES: list[tuple[str, Callable[[random.Random], tuple[str, str]], float]] = [
    *[(f"cyrillic vs {s}", _cyrillic(s), 1.0) for s in ("icao", "bgn", "popular", "german", "french")],
    ("cyrillic vs polish (a scheme the matcher lacks)", _cyrillic("polish"), 0.95),
    ("cyrillic vs bgn with a typo", _cyrillic("bgn", typo=True), 0.85),
    *[(f"icao latin vs {s}", _cyrillic(s, listed_in_latin=True), 1.0) for s in ("bgn", "popular", "french")],
    ("icao latin vs german", _cyrillic("german", listed_in_latin=True), 0.3),
    ("icao latin vs polish", _cyrillic("polish", listed_in_latin=True), 0.3),
    ("arabic script vs latin", _arabic, 1.0),
    ("arabic latin vs latin", _arabic_latin, 1.0),
    ("greek vs latin", _greek, 0.95),
    ("latin with a typo", _latin(_typo), 1.0),
    ("latin with an initial", _latin(_initial), 1.0),
    ("latin without a middle name", _latin(_drop_middle), 1.0),
]


def _people(rng: random.Random, count: int) -> list[str]:
    people = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.35:
            people.append(sample.ICAO(sample.cyrillic_person(rng)))
        elif roll < 0.6:
            people.append(sample.arabic_person(rng)[1][0])
        elif roll < 0.7:
            people.append(sample.greek_person(rng)[1][0])
        else:
            people.append(sample.latin_person(rng))
    return people


def _recall(pairs: list[tuple[str, str]]) -> tuple[float, int]:
    scores = [name_score(a, b) for a, b in pairs]
    return sum(s >= ALERT_THRESHOLD for s in scores) / len(scores), min(scores)


@pytest.mark.parametrize(("category", "make", "required"), POSITIVES, ids=[p[0] for p in POSITIVES])
def test_spellings_of_one_person_reach_the_alert_threshold(category, make, required):
    rng = random.Random(f"calibration:{category}")
    pairs = [make(rng) for _ in range(PER_CATEGORY)]

    recall, lowest = _recall(pairs)

    print(f"\n{category:50} recall@{ALERT_THRESHOLD} {recall:6.1%}  lowest {lowest}")
    assert recall >= required


def test_different_people_stay_below_the_alert_threshold():
    rng = random.Random("calibration:negatives")
    listed, customers = _people(rng, 120), _people(rng, 120)
    sharing, disjoint = [], []
    for a in listed:
        words_a = {t.text for t in name_tokens(a)}
        for b in customers:
            if a == b:
                continue
            shares = bool(words_a & {t.text for t in name_tokens(b)})
            (sharing if shares else disjoint).append(name_score(a, b))

    def rate(scores: list[int], at: int) -> float:
        return sum(s >= at for s in scores) / len(scores)

    for label, scores in (("sharing a name part", sharing), ("sharing none", disjoint)):
        rates = "  ".join(f">={t}: {rate(scores, t):6.2%}" for t in (60, 70, 80, 90))
        print(f"\ndifferent people {label:20} n={len(scores):5}  {rates}")
    assert rate(disjoint, ALERT_THRESHOLD) <= 0.0005
    assert rate(sharing, ALERT_THRESHOLD) <= 0.04
