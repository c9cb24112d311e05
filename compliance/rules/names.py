# ruff: noqa: RUF001, RUF002 - letters of other scripts are this file's subject
"""Name normalisation, tokens, a phonetic key and the fuzzy name score (0..100).

Normalisation (`normalise_name`): NFKC, casefold, transliterate Cyrillic/Greek/Arabic script
(`transliteration.py`), strip accents (NFKD without combining marks), fold the Latin letters that
do not decompose (ø ł đ ß æ œ þ ð ı), and turn everything that is not a letter or digit into one
space. Idempotent: normalising a normalised name changes nothing.

Tokens (`name_tokens`): the words of the normalised name without particles (al, bin, van, de...),
which spellings drop or glue on freely, and without company legal forms (ltd, llc, ooo...). Arabic
compounds with "Abd" are joined into one token ("Abd al-Rahman", "Abdel Rahman", "Abdulrahman" all
become one word), so that rule depends on word order; nothing else does.

Forms (`name_forms`): a name is compared in its normal form and, when it is written in Cyrillic,
also in the BGN/PCGN, English, German and French spellings (`transliteration.cyrillic_variants`);
the best pair of forms counts.

Score (`compare_names`), after the token alignment of nomenklatura's `person_name_jaro_winkler`
(the matcher behind OpenSanctions' yente), made symmetric:

1. token similarity: 1 for equal tokens; an initial against a word starting with it
   INITIAL_SIMILARITY; otherwise Jaro-Winkler, raised by the Jaro-Winkler of the two words'
   phonetic keys (consonant classes without vowels) times ABJAD_KEY_WEIGHT when either word was
   written in Arabic script (which leaves short vowels out, so vowels carry no evidence), or
   times LATIN_KEY_WEIGHT between Latin words (Yuriy/Iurii, Iwanow/Ivanov).
2. alignment: every token of the shorter name is paired with a distinct token of the longer one,
   choosing the pairing with the best score (exhaustive up to 720 pairings, then a bitmask
   search; at most MAX_TOKENS tokens, the longest, per name).
3. score = sum over pairs of weight x f(similarity) / (sum of pair weights + EXTRA_TOKEN_WEIGHT x
   weight of the longer name's unpaired tokens), where a token's weight is its length, f is 0
   below TOKEN_FLOOR (a conflicting name part) and the similarity squared above it. A one-word
   name against a longer one is multiplied by SINGLE_TOKEN_FACTOR: a bare surname is weak evidence.

Evidence for each constant is in `screening.py` (thresholds) and in
tests/compliance/test_rules_calibration.py, which measures the separation they give.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations
from math import perm
from typing import NamedTuple

from compliance.rules.phonetics import jaro_winkler, phonetic_key
from compliance.rules.transliteration import cyrillic_variants, is_arabic, transliterate

INITIAL_SIMILARITY = 0.9
LATIN_KEY_WEIGHT = 0.9
ABJAD_KEY_WEIGHT = 0.95
TOKEN_FLOOR = 0.75
EXTRA_TOKEN_WEIGHT = 0.3
SINGLE_TOKEN_FACTOR = 0.7
MAX_TOKENS = 10

# Letters NFKD does not take apart.
LATIN_FOLDS = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ð": "d",
        "ı": "i",
        "ħ": "h",
        "ŀ": "l",
        "ŧ": "t",
        "ƒ": "f",
        "ĸ": "k",
        "ŉ": "n",
    }
)
# Words every spelling may add or drop: Arabic, Dutch/German, Romance and Slavic particles.
PARTICLES = frozenset(
    (
        "al",
        "el",
        "ul",
        "ad",
        "ar",
        "as",
        "ash",
        "at",
        "az",
        "an",
        "bin",
        "ibn",
        "bint",
        "ben",
        "abu",
        "abou",
        "bou",
        "ould",
        "de",
        "da",
        "di",
        "del",
        "della",
        "der",
        "den",
        "des",
        "van",
        "von",
        "la",
        "le",
        "du",
        "dos",
        "das",
        "do",
    )
)
# Company legal forms (and their Cyrillic ones after transliteration).
LEGAL_FORMS = frozenset(
    (
        "ltd",
        "limited",
        "llc",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "sarl",
        "srl",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "jsc",
        "pjsc",
        "ojsc",
        "cjsc",
        "ooo",
        "oao",
        "zao",
        "pao",
        "tov",
        "fze",
        "fzco",
        "llp",
        "lp",
        "sas",
        "spa",
        "kg",
    )
)
ABD_PREFIXES = ("abdoul", "abdul", "abdel", "abdal", "abdol", "abdur", "abdar", "abdu")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = transliterate(text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.translate(LATIN_FOLDS).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def normalise_name(name: str) -> str:
    """Lower-case Latin words separated by single spaces (other scripts kept as letters)."""
    folded = _fold(name)
    # A second pass settles the rare characters whose folding yields foldable characters
    # (compatibility forms, case pairs that decompose), so the result is a fixed point.
    again = _fold(folded)
    while again != folded:
        folded, again = again, _fold(again)
    return folded


class Token(NamedTuple):
    """A word of a name; a tuple, so it hashes fast as a cache key."""

    text: str
    key: str
    abjad: bool  # written in Arabic script: short vowels missing, compare by the key


def _join_abd(words: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Join "Abd" (and its spellings abdul, abdel...) with the name it belongs to."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(words):
        word, abjad = words[i]
        for prefix in ABD_PREFIXES:
            if word.startswith(prefix) and len(word) > len(prefix) + 1:
                word = "abd" + word[len(prefix) :]
                break
        if word in {"abd", *ABD_PREFIXES} and i + 1 < len(words):
            j = i + 1
            if words[j][0] in PARTICLES and j + 1 < len(words):
                j += 1
            out.append(("abd" + words[j][0], abjad or words[j][1]))
            i = j + 1
            continue
        out.append((word, abjad))
        i += 1
    return out


@lru_cache(maxsize=65536)
def name_tokens(name: str) -> tuple[Token, ...]:
    """The comparable words of `name`; particles and legal forms only when nothing else is left."""
    words = [
        (word, any(is_arabic(c) for c in raw)) for raw in name.split() for word in normalise_name(raw).split()
    ]
    tokens = [Token(word, phonetic_key(word), abjad) for word, abjad in _join_abd(words)]
    meaningful = [t for t in tokens if t.text not in PARTICLES and t.text not in LEGAL_FORMS]
    return tuple(meaningful or tokens)


Forms = tuple[tuple[Token, ...], ...]


@lru_cache(maxsize=65536)
def name_forms(name: str) -> Forms:
    """The token lists `name` is compared by: its normal (ICAO) form and, for a Cyrillic name,
    its BGN/PCGN, English, German and French spellings (`transliteration.cyrillic_variants`)."""
    forms = [name_tokens(name)]
    folded = unicodedata.normalize("NFKC", name).casefold()
    forms.extend(name_tokens(variant) for variant in cyrillic_variants(folded))
    return tuple(dict.fromkeys(f for f in forms if f))


# --- similarity ---------------------------------------------------------------------------------


@lru_cache(maxsize=262144)
def token_similarity(a: Token, b: Token) -> float:
    """0..1; symmetric."""
    if a.text == b.text:
        return 1.0
    if len(a.text) == 1 or len(b.text) == 1:
        return INITIAL_SIMILARITY if a.text[0] == b.text[0] else 0.0
    similarity = jaro_winkler(a.text, b.text)
    if a.abjad or b.abjad:
        similarity = max(similarity, ABJAD_KEY_WEIGHT * jaro_winkler(a.key, b.key))
    elif LATIN_KEY_WEIGHT and min(len(a.key), len(b.key)) >= 2:
        similarity = max(similarity, LATIN_KEY_WEIGHT * jaro_winkler(a.key, b.key))
    return similarity


@dataclass(frozen=True, slots=True)
class NameComparison:
    score: int  # 0..100
    pairs: tuple[tuple[str, str, float], ...]  # (token of a, token of b, similarity), aligned
    unpaired: tuple[str, ...]


def _weight(token: Token) -> int:
    # Longer name parts carry more of a name's identity; the weight is their length.
    return len(token.text)


def _credit(similarity: float) -> float:
    return 0.0 if similarity < TOKEN_FLOOR else similarity * similarity


def _assignments(n: int, m: int) -> list[tuple[int, ...]]:
    """Every way to pair n short tokens with distinct tokens of m (n <= m), for small names."""
    return _ASSIGNMENTS.setdefault((n, m), list(permutations(range(m), n)))


_ASSIGNMENTS: dict[tuple[int, int], list[tuple[int, ...]]] = {}
# P(m, n) up to this many pairings is enumerated; larger names go through the bitmask DP.
MAX_ENUMERATED = 720


def _best_by_dp(credit: list[list[float]], weights_long: list[float]) -> list[tuple[int, ...]]:
    """For each set of paired long tokens, the pairing with the largest numerator."""
    # dp[mask] = (numerator, pairing) after pairing the first popcount(mask) short tokens.
    dp: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for row in credit:
        nxt: dict[int, tuple[float, tuple[int, ...]]] = {}
        for mask, (value, chosen) in dp.items():
            for j, contribution in enumerate(row):
                if mask & (1 << j):
                    continue
                key = mask | (1 << j)
                candidate = value + contribution
                if key not in nxt or candidate > nxt[key][0]:
                    nxt[key] = (candidate, (*chosen, j))
        dp = nxt
    return [chosen for _, chosen in dp.values()]


def compare_tokens(a: tuple[Token, ...], b: tuple[Token, ...]) -> NameComparison:
    """The best alignment of two token lists and its score; symmetric in a and b. Pairs are
    reported as (token of a, token of b, similarity)."""
    if not a or not b:
        return NameComparison(0, (), tuple(t.text for t in (*a, *b)))
    # Keep the longest words when a name is unusually long: they carry the evidence.
    if len(a) > MAX_TOKENS:
        a = tuple(sorted(a, key=lambda t: (-len(t.text), t.text))[:MAX_TOKENS])
    if len(b) > MAX_TOKENS:
        b = tuple(sorted(b, key=lambda t: (-len(t.text), t.text))[:MAX_TOKENS])
    swapped = len(a) > len(b)
    short, long_ = (b, a) if swapped else (a, b)
    weights_short = [_weight(t) for t in short]
    weights_long = [_weight(t) for t in long_]
    similarity = [[token_similarity(s, t) for t in long_] for s in short]
    credit = [
        [(ws + wl) * _credit(sim) for wl, sim in zip(weights_long, row, strict=True)]
        for ws, row in zip(weights_short, similarity, strict=True)
    ]
    if not any(any(row) for row in credit):
        return NameComparison(0, (), ())
    n, m = len(short), len(long_)
    candidates = _assignments(n, m) if perm(m, n) <= MAX_ENUMERATED else _best_by_dp(credit, weights_long)
    total_short, total_long = sum(weights_short), sum(weights_long)
    best_score, best_pairs = -1.0, candidates[0]
    for chosen in candidates:
        paired_long = sum(weights_long[j] for j in chosen)
        numerator = sum(credit[i][j] for i, j in enumerate(chosen))
        score = numerator / (total_short + paired_long + EXTRA_TOKEN_WEIGHT * (total_long - paired_long))
        if score > best_score:
            best_score, best_pairs = score, chosen
    # Recomputed exactly (fsum) from the chosen pairs: the same pairs give the same float
    # whichever name came first, which keeps the score symmetric.
    paired_long = math.fsum(weights_long[j] for j in best_pairs)
    best_score = math.fsum(credit[i][j] for i, j in enumerate(best_pairs)) / (
        total_short + paired_long + EXTRA_TOKEN_WEIGHT * (total_long - paired_long)
    )
    if n == 1 and m > 1:
        best_score *= SINGLE_TOKEN_FACTOR
    pairs = tuple(
        (long_[j].text, short[i].text, round(similarity[i][j], 3))
        if swapped
        else (short[i].text, long_[j].text, round(similarity[i][j], 3))
        for i, j in enumerate(best_pairs)
    )
    unpaired = tuple(t.text for j, t in enumerate(long_) if j not in best_pairs)
    return NameComparison(min(100, round(round(best_score, 9) * 100)), pairs, unpaired)


def compare_forms(a: Forms, b: Forms) -> NameComparison:
    """The best comparison between any form of a and any form of b."""
    best = NameComparison(0, (), ())
    for x in a:
        for y in b:
            comparison = compare_tokens(x, y)
            if comparison.score > best.score:
                best = comparison
                if best.score == 100:
                    return best
    return best


def compare_names(a: str, b: str) -> NameComparison:
    return compare_forms(name_forms(a), name_forms(b))


def name_score(a: str, b: str) -> int:
    """0..100: 100 for the same name (after normalisation, in any word order)."""
    return compare_names(a, b).score


def best_name_match(query: Forms, names: tuple[tuple[str, Forms], ...]) -> tuple[str, NameComparison]:
    """The entry name (of caption and aliases, each with its forms) closest to `query`."""
    best: tuple[str, NameComparison] = ("", NameComparison(0, (), ()))
    for name, forms in names:
        comparison = compare_forms(query, forms)
        if comparison.score > best[1].score:
            best = (name, comparison)
            if comparison.score == 100:
                break
    return best


__all__ = [
    "NameComparison",
    "Token",
    "best_name_match",
    "compare_forms",
    "compare_names",
    "compare_tokens",
    "name_forms",
    "name_score",
    "name_tokens",
    "normalise_name",
    "token_similarity",
]
