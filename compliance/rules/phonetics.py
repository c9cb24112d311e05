# ruff: noqa: RUF003 - the comments name the Cyrillic letters the key collapses
"""The two string measures under the name score: a phonetic key and Jaro-Winkler similarity.

Both work on normalised words (lower-case ASCII after `names.normalise_name`), are pure and
cached, and are symmetric where that matters (`jaro_winkler(a, b) == jaro_winkler(b, a)`).
"""

from __future__ import annotations

from functools import lru_cache

# Longest first. Collapses what transliteration schemes write differently for one sound:
# щ shch/schtsch/szcz, ж zh/j/sch, х kh/h, ц ts/tz/z/c, в v/w, ph/f, ck/k/q, th/t, dh/d.
_KEY_RULES = [
    ("schtsch", "J"),
    ("shch", "J"),
    ("szcz", "J"),
    ("tsch", "J"),
    ("dsch", "J"),
    ("dzh", "J"),
    ("sch", "J"),
    ("tch", "J"),
    ("zh", "J"),
    ("sh", "J"),
    ("sz", "J"),
    ("cz", "J"),
    ("ch", "J"),
    ("dj", "J"),
    ("kh", "H"),
    ("gh", "G"),
    ("ph", "F"),
    ("th", "T"),
    ("dh", "D"),
    ("ts", "S"),
    ("tz", "S"),
    ("ck", "K"),
    ("x", "KS"),
    ("q", "K"),
    ("k", "K"),
    ("c", "K"),
    ("g", "G"),
    ("h", "H"),
    ("j", "J"),
    ("z", "S"),
    ("s", "S"),
    ("v", "F"),
    ("f", "F"),
    ("w", "F"),
    ("b", "B"),
    ("p", "B"),
    ("d", "D"),
    ("t", "T"),
    ("l", "L"),
    ("m", "M"),
    ("n", "N"),
    ("r", "R"),
]
_KEY_VOWELS = frozenset("aeiouy")


@lru_cache(maxsize=65536)
def phonetic_key(word: str) -> str:
    """Consonant classes of `word` without vowels (a leading vowel kept as "A"), repeats collapsed.

    Words outside ASCII (scripts without a transliteration) are their own key.
    """
    if not word.isascii():
        return word
    classes: list[str] = []
    i = 0
    while i < len(word):
        char = word[i]
        if char in _KEY_VOWELS:
            classes.append("V")
            i += 1
            continue
        if char == "c" and word[i + 1 : i + 2] in {"e", "i", "y"}:
            classes.append("S")
            i += 1
            continue
        # "j" inside a word next to a vowel is the glide й/ё/ю/я of German and Polish spellings
        # (Sergej, Swjagin, Fjodor), which English writes y or i. At the start it stays a consonant:
        # Jamal, John, and the Arabic ج.
        if char == "j" and classes and (classes[-1] == "V" or word[i + 1 : i + 2] in _KEY_VOWELS):
            classes.append("V")
            i += 1
            continue
        for pattern, replacement in _KEY_RULES:
            if word.startswith(pattern, i):
                classes.extend(replacement)
                i += len(pattern)
                break
        else:
            classes.append(char)  # a digit
            i += 1
    key: list[str] = []
    for position, cls in enumerate(classes):
        if cls == "V":
            if position == 0:
                key.append("A")
            continue
        if key and key[-1] == cls:
            continue
        key.append(cls)
    return "".join(key)


@lru_cache(maxsize=262144)
def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity (prefix scale 0.1, prefix up to 4); symmetric by construction."""
    if a > b:
        a, b = b, a
    if a == b:
        return 1.0
    len_a, len_b = len(a), len(b)
    if not len_a or not len_b:
        return 0.0
    window = max(0, max(len_a, len_b) // 2 - 1)
    b_used = [False] * len_b
    a_order: list[str] = []
    a_positions: list[int] = []
    for i, char in enumerate(a):
        low, high = max(0, i - window), min(len_b, i + window + 1)
        j = b.find(char, low, high)
        while j != -1 and b_used[j]:
            j = b.find(char, j + 1, high)
        if j != -1:
            b_used[j] = True
            a_order.append(char)
            a_positions.append(j)
    matches = len(a_order)
    if not matches:
        return 0.0
    b_order = [b[j] for j in sorted(a_positions)]
    transpositions = sum(x != y for x, y in zip(a_order, b_order, strict=True)) / 2
    jaro = (matches / len_a + matches / len_b + (matches - transpositions) / matches) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)
