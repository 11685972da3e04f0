"""Builds `given_names_intl.txt` and `given_names_intl_ambiguous.txt` (their 8-line headers are
kept by hand) from Jörg Michael's `nam_dict.txt` (GFDL 1.2+, shipped in the `gender-guesser`
package) and the word frequencies of the `wordfreq` package (its `small_*`/`large_en` msgpack
files; needs `msgpack`).

A name is kept when it is one word of letters, 3 letters or more, has a frequency of 2 or more
(of 13) in some country, is not already a census name (`first_names.txt`, `surnames.txt`) and
is not a frequent English word (Zipf 4.0 or more: `file`, `one`, `key`). It is ambiguous (a cue or a
known neighbour is needed) when it is a common word: Zipf frequency 3.3 or more in English, 5.3
or more in another language, 3.0 or more in 8 of the other languages, or 4.5 or more in 2 of
them. A name common in its own language only (`antti`, `maija` in Finnish) stays unambiguous.

    python3 given_names_intl.py NAM_DICT WORDFREQ_DATA_DIR
"""
import gzip
import sys

import msgpack

nam_dict, wf_dir = sys.argv[1], sys.argv[2]
FREQ_COL = 30  # the first country column ("Great Britain") of nam_dict.txt
LANGS = ["de", "fr", "es", "it", "nl", "pt", "sv", "fi", "pl", "da", "nb", "cs", "hu", "tr", "id"]


def zipf(lang, size):
    bins = msgpack.unpackb(gzip.open(f"{wf_dir}/{size}_{lang}.msgpack.gz").read(), raw=False)
    table = {}
    for i, words in enumerate(bins[1:]):  # bin i holds words of frequency 10^(-i/100)
        for w in words:
            table.setdefault(w, 9.0 - i / 100.0)
    return table


english = zipf("en", "large")
others = [zipf(lang, "small") for lang in LANGS]
census = set(open("first_names.txt", encoding="utf-8").read().split())
# The census surnames keep the flags they have (`rand`, `field` stay surnames only).
census |= set(open("surnames.txt", encoding="utf-8").read().split())

names = {}
for line in open(nam_dict, encoding="utf-8", errors="replace"):
    if line.startswith(("#", "=")) or len(line) <= FREQ_COL:
        continue
    if line[FREQ_COL - 1] == "+":  # umlaut-expanded duplicate, per the file's own note
        continue
    name = line[3 : FREQ_COL - 1].strip().lower()
    if len(name) < 3 or not name.isalpha():
        continue
    freqs = [int(c, 16) for c in line[FREQ_COL : FREQ_COL + 56] if c in "0123456789ABCDEF"]
    names[name] = max([names.get(name, 0)] + freqs)

plain, ambiguous = [], []
for name, freq in sorted(names.items()):
    if name in census or freq < 2:
        continue
    z = [t.get(name, 0.0) for t in others]
    common = (
        english.get(name, 0.0) >= 3.3
        or max(z) >= 5.3
        or sum(v >= 3.0 for v in z) >= 8
        or sum(v >= 4.5 for v in z) >= 2
    )
    if english.get(name, 0.0) >= 4.0:  # `file`, `one`, `key`: hardly ever a name in English text
        continue
    (ambiguous if common else plain).append(name)

for path, words in (("given_names_intl.txt", plain), ("given_names_intl_ambiguous.txt", ambiguous)):
    head = [l for l in open(path, encoding="utf-8") if l.startswith("#")]
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(head)
        f.write("".join(w + "\n" for w in words))
