# ruff: noqa: RUF001, RUF002, RUF003 - Cyrillic, Greek and Arabic letters are this file's subject
"""Cyrillic, Greek and Arabic-script names to lower-case ASCII Latin, with our own tables.

Sanctions lists carry a person's name in the original script and in one or more Latin spellings,
and customers type whichever spelling their passport shows. Screening compares Latin to Latin, so
every name is first brought to Latin with one fixed scheme per script; the differences between
schemes (Sergei/Sergey/Sergej, Muhammad/Mohamed) are left to the phonetic key and the fuzzy score
in `names.py`.

Schemes (lower-case output; characters of other scripts pass through unchanged):

- **Cyrillic: ICAO Doc 9303 Part 3** (8th edition, 2021), the scheme of machine-readable
  passports, which Russia has mandated for its passports since 2013: ж zh, х kh, ц ts, ч ch,
  ш sh, щ shch, ъ ie, ы y, ь dropped, э e, ю iu, я ia, й i, ё e. Language exceptions of the same
  table, chosen by letters only that language uses: Ukrainian (і ї є ґ present) writes и as y;
  Belarusian (ў present) writes г as h and ё as io. Serbian/Macedonian letters (ђ ј љ њ ћ џ ѓ ќ ѕ)
  follow the ICAO table too.
- **Greek: ELOT 743** (ISO 843 type 2), the Greek passport scheme, simplified: ου ou, αυ/ευ av/ev,
  γγ ng, γκ g at the start of a word, μπ b at the start, ντ d at the start, θ th, χ ch, ψ ps,
  ξ x, η/ι/υ i (υ y outside diphthongs), ω o.
- **Arabic script (Arabic, Persian, Urdu letters)**: a consonantal scheme close to the common
  "passport" spellings: ث th, ج j, ح h, خ kh, ذ dh, ش sh, ص s, ض d, ط t, ظ z, غ gh, ق q, ة a,
  ى a, ء and medial ع dropped; a word-initial ع or أ/إ/آ/ا becomes a vowel; و and ي are w/y at the
  start of a word or next to a vowel and the long vowels u/i between consonants; written short
  vowels (harakat) become a/u/i, shadda doubles the consonant. The article ال at the start of a
  word becomes a separate word "al". Short vowels are not written in Arabic, so "محمد" gives
  "mhmd": the phonetic key, which drops vowels, is what lets it meet "Muhammad".
"""

from __future__ import annotations

import re

CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "ґ": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "є": "ie",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "і": "i",
    "ї": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ў": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
    # Serbian and Macedonian
    "ђ": "d",
    "ј": "j",
    "љ": "lj",
    "њ": "nj",
    "ћ": "c",
    "џ": "dz",
    "ѓ": "g",
    "ќ": "k",
    "ѕ": "dz",
    # Kazakh, Kyrgyz, Tajik, Uzbek Cyrillic letters common in names
    "ә": "a",
    "ғ": "g",
    "қ": "k",
    "ң": "n",
    "ө": "o",
    "ұ": "u",
    "ү": "u",
    "һ": "h",
    "ҳ": "h",
    "ӣ": "i",
    "ӯ": "u",
    "ҷ": "j",
}
UKRAINIAN_MARKERS = frozenset("іїєґ")
BELARUSIAN_MARKERS = frozenset("ў")

GREEK = {
    "α": "a",
    "β": "v",
    "γ": "g",
    "δ": "d",
    "ε": "e",
    "ζ": "z",
    "η": "i",
    "θ": "th",
    "ι": "i",
    "κ": "k",
    "λ": "l",
    "μ": "m",
    "ν": "n",
    "ξ": "x",
    "ο": "o",
    "π": "p",
    "ρ": "r",
    "σ": "s",
    "ς": "s",
    "τ": "t",
    "υ": "y",
    "φ": "f",
    "χ": "ch",
    "ψ": "ps",
    "ω": "o",
}
# Digraphs first (longest match); "^" marks the start of a word.
GREEK_DIGRAPHS = {
    "ου": "ou",
    "αυ": "av",
    "ευ": "ev",
    "ηυ": "iv",
    "γγ": "ng",
    "γξ": "nx",
    "γχ": "nch",
    "^γκ": "g",
    "γκ": "gk",
    "^μπ": "b",
    "μπ": "mp",
    "^ντ": "d",
    "ντ": "nt",
}

ARABIC_CONSONANTS = {
    "ب": "b",
    "ت": "t",
    "ث": "th",
    "ج": "j",
    "ح": "h",
    "خ": "kh",
    "د": "d",
    "ذ": "dh",
    "ر": "r",
    "ز": "z",
    "س": "s",
    "ش": "sh",
    "ص": "s",
    "ض": "d",
    "ط": "t",
    "ظ": "z",
    "غ": "gh",
    "ف": "f",
    "ق": "q",
    "ك": "k",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ه": "h",
    # Persian and Urdu
    "پ": "p",
    "چ": "ch",
    "ژ": "zh",
    "گ": "g",
    "ک": "k",
    "ٹ": "t",
    "ڈ": "d",
    "ڑ": "r",
    "ں": "n",
    "ہ": "h",
    "ھ": "h",
    "ڤ": "v",
}
ARABIC_ALIF = frozenset("اأإآٱ")
ARABIC_HAMZA_SEATS = {"ء": "", "ؤ": "u", "ئ": "i"}
ARABIC_VOWEL_SIGNS = {
    "\u064e": "a",  # fatha
    "\u064f": "u",  # damma
    "\u0650": "i",  # kasra
    "\u064b": "",  # tanwin fath
    "\u064c": "",  # tanwin damm
    "\u064d": "",  # tanwin kasr
    "\u0652": "",  # sukun
    "\u0670": "a",  # superscript alif
    "\u0640": "",  # tatweel (a stretch, not a letter)
}
ARABIC_SHADDA = "\u0651"
ARABIC_WAW = frozenset("و")
ARABIC_YA = frozenset("يیى")
ARABIC_AIN = "ع"
ARABIC_TA_MARBUTA = "ة"
ARABIC_ALIF_MAQSURA = "ى"
YEH_BARREE = "ے"
_ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_VOWELS = frozenset("aeiou")
_WORD = re.compile(r"\S+")


def is_arabic(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _ARABIC_RANGES)


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff"


def _is_greek(char: str) -> bool:
    return "\u0370" <= char <= "\u03ff"


def transliterate(text: str) -> str:
    """`text` (already lower-case and without combining accents, except Arabic vowel signs) with
    Cyrillic, Greek and Arabic-script words in Latin; anything else unchanged."""
    if text.isascii():
        return text
    return _WORD.sub(lambda match: _word(match.group()), text)


def _word(word: str) -> str:
    if any(is_arabic(c) for c in word):
        return _arabic_word(word)
    if any(_is_greek(c) for c in word):
        word = _greek_word(word)
    if any(_is_cyrillic(c) for c in word):
        word = _cyrillic_word(word)
    return word


def _cyrillic_word(word: str) -> str:
    letters = set(word)
    table = CYRILLIC
    if letters & BELARUSIAN_MARKERS:
        table = {**CYRILLIC, "г": "h", "ё": "io"}
    elif letters & UKRAINIAN_MARKERS:
        table = {**CYRILLIC, "и": "y"}
    return "".join(table.get(c, c) for c in word)


def _greek_word(word: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(word):
        pair = word[i : i + 2]
        if i == 0 and f"^{pair}" in GREEK_DIGRAPHS:
            out.append(GREEK_DIGRAPHS[f"^{pair}"])
            i += 2
        elif pair in GREEK_DIGRAPHS:
            out.append(GREEK_DIGRAPHS[pair])
            i += 2
        else:
            out.append(GREEK.get(word[i], word[i]))
            i += 1
    return "".join(out)


def _arabic_word(word: str) -> str:
    prefix = ""
    # The definite article is its own word in Latin spellings ("al-Ahmad", "Al Ahmad").
    if len(word) > 3 and word[0] in ARABIC_ALIF and word[1] == "ل":
        prefix, word = "al ", word[2:]
    out: list[str] = []
    for i, char in enumerate(word):
        previous = out[-1][-1] if out and out[-1] else ""
        following = word[i + 1] if i + 1 < len(word) else ""
        at_start = not out
        if char in ARABIC_CONSONANTS:
            out.append(ARABIC_CONSONANTS[char])
        elif char in ARABIC_ALIF:
            out.append("a" if previous != "a" else "")
        elif char == ARABIC_AIN:
            out.append("a" if at_start else "")
        elif char == ARABIC_TA_MARBUTA:
            out.append("a")
        elif char in ARABIC_WAW:
            out.append("w" if at_start or previous in _VOWELS or _arabic_vowel_next(following) else "u")
        elif char in ARABIC_YA:
            if char == ARABIC_ALIF_MAQSURA and not following:
                out.append("a")
            else:
                out.append("y" if at_start or previous in _VOWELS or _arabic_vowel_next(following) else "i")
        elif char == YEH_BARREE:
            out.append("e")
        elif char in ARABIC_HAMZA_SEATS:
            out.append(ARABIC_HAMZA_SEATS[char])
        elif char in ARABIC_VOWEL_SIGNS:
            out.append(ARABIC_VOWEL_SIGNS[char])
        elif char == ARABIC_SHADDA:
            if previous and previous not in _VOWELS:
                out.append(previous)
        elif is_arabic(char):
            out.append("")  # digits, punctuation and other signs of the block
        else:
            out.append(char)
    return prefix + "".join(out)


def _arabic_vowel_next(char: str) -> bool:
    return bool(char) and (char in ARABIC_ALIF or char == ARABIC_TA_MARBUTA or char in "\u064e\u064f\u0650")


# --- other spellings of Cyrillic names ----------------------------------------------------------
# Lists and customers also write Russian names in the spellings below; a Cyrillic name is compared
# in each of them as well as in ICAO, so "Юрий" meets "Iurii", "Yuriy", "Juri" and "Iouri" exactly.
# Endings are replaced before letters; "initial" letters apply at the start of a word and after a
# vowel, ъ or ь (where е/ё/ю/я are iotated); "between vowels" applies between two vowels.


class _CyrillicScheme:
    def __init__(
        self,
        letters: dict[str, str],
        *,
        initial: dict[str, str] | None = None,
        endings: dict[str, str] | None = None,
        between_vowels: dict[str, str] | None = None,
    ) -> None:
        self.letters = {**CYRILLIC, **letters}
        self.initial = initial or {}
        self.endings = sorted((endings or {}).items(), key=lambda item: -len(item[0]))
        self.between_vowels = between_vowels or {}

    def word(self, word: str) -> str:
        tail = ""
        for ending, replacement in self.endings:
            if word.endswith(ending) and len(word) > len(ending) + 1:
                word, tail = word[: -len(ending)], replacement
                break
        out = []
        for i, char in enumerate(word):
            before = word[i - 1] if i else ""
            after = word[i + 1] if i + 1 < len(word) else ""
            if char in self.initial and (not before or before in _CYRILLIC_VOWELS or before in "ъь"):
                out.append(self.initial[char])
            elif char in self.between_vowels and before in _CYRILLIC_VOWELS and after in _CYRILLIC_VOWELS:
                out.append(self.between_vowels[char])
            else:
                out.append(self.letters.get(char, char))
        return "".join(out) + tail


_CYRILLIC_VOWELS = frozenset("аеёиоуыэюяіїє")
# BGN/PCGN 1947 (US and UK government lists), with its ë written "yo"/"o" as the press does.
BGN_PCGN = _CyrillicScheme(
    {"ё": "o", "й": "y", "ъ": "", "ю": "yu", "я": "ya"},
    initial={"е": "ye", "ё": "yo"},
    endings={"ий": "iy", "ый": "yy"},
)
# English press usage: BGN letters with the short endings (-sky, -y).
ENGLISH_POPULAR = _CyrillicScheme(
    {"ё": "yo", "й": "y", "ъ": "", "ю": "yu", "я": "ya"},
    initial={"е": "ye"},
    endings={"ский": "sky", "ий": "y", "ый": "y"},
)
# German (Duden) usage.
GERMAN = _CyrillicScheme(
    {"в": "w", "ж": "sch", "з": "s", "й": "j", "х": "ch", "ц": "z", "ч": "tsch", "ш": "sch", "щ": "schtsch",
     "ъ": "", "ю": "ju", "я": "ja", "ё": "jo"},
    initial={"е": "je"},
    endings={"ий": "i", "ый": "y"},
    between_vowels={"с": "ss"},
)  # fmt: skip
# French usage.
FRENCH = _CyrillicScheme(
    {"ж": "j", "й": "i", "у": "ou", "ч": "tch", "ш": "ch", "щ": "chtch", "ъ": "", "ю": "iou", "я": "ia",
     "ё": "io"},
    endings={"ий": "i", "ый": "y"},
    between_vowels={"с": "ss"},
)  # fmt: skip
CYRILLIC_VARIANT_SCHEMES = {"bgn": BGN_PCGN, "english": ENGLISH_POPULAR, "german": GERMAN, "french": FRENCH}


def cyrillic_variants(text: str) -> tuple[str, ...]:
    """`text` (lower case, NFC) in each spelling of CYRILLIC_VARIANT_SCHEMES; () without Cyrillic."""
    if not any(_is_cyrillic(c) for c in text):
        return ()
    variants = []
    for scheme in CYRILLIC_VARIANT_SCHEMES.values():
        variants.append(
            _WORD.sub(
                lambda m, s=scheme: (
                    s.word(m.group()) if any(_is_cyrillic(c) for c in m.group()) else m.group()
                ),
                text,
            )
        )
    return tuple(dict.fromkeys(variants))
