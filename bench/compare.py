"""Presidio and scrubadub over the same chat JSONL slice, for bench/redact.sh.

Presidio: AnalyzerEngine with the predefined recognizers over a blank spaCy English pipeline (no
model download), then AnonymizerEngine (replace). scrubadub: scrubadub.clean. Every string value of
every message is processed, like tunegate does. Prints one line per tool: name, bytes, seconds, MB/s.
"""

import json
import sys
import time


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from strings(x)


def load(path, limit):
    lines, size = [], 0
    with open(path, "rb") as f:
        for raw in f:
            if size + len(raw) > limit:
                break
            size += len(raw)
            lines.append(raw.decode("utf-8"))
    return lines, size


def offline_tldextract():
    """Presidio's e-mail recognizer calls tldextract, which would fetch the public suffix list over
    the network; use the snapshot bundled with the package instead."""
    import tldextract
    import tldextract.tldextract as tx

    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tx.TLD_EXTRACTOR = extractor
    tldextract.extract = extractor


def presidio_engine():
    offline_tldextract()
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacy(SpacyNlpEngine):
        """A spaCy NLP engine over spacy.blank("en"): tokenizer only, no model download."""

        def __init__(self):
            super().__init__(models=[{"lang_code": "en", "model_name": "blank"}])

        def load(self):
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacy()
    engine.load()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def run_presidio(lines):
    from presidio_anonymizer import AnonymizerEngine

    analyzer = presidio_engine()
    anonymizer = AnonymizerEngine()
    found = 0
    for line in lines:
        for s in strings(json.loads(line)):
            results = analyzer.analyze(text=s, language="en")
            found += len(results)
            anonymizer.anonymize(text=s, analyzer_results=results)
    return found


def run_scrubadub(lines):
    import scrubadub

    scrubber = scrubadub.Scrubber()
    for line in lines:
        for s in strings(json.loads(line)):
            scrubber.clean(s)
    return 0


def main():
    path, limit = sys.argv[1], int(sys.argv[2])
    lines, size = load(path, limit)
    for name, fn in (("presidio", run_presidio), ("scrubadub", run_scrubadub)):
        try:
            # Warm-up (imports, recognizer compilation) is not timed.
            fn(lines[:5])
            t0 = time.process_time()
            fn(lines)
            dt = time.process_time() - t0
            print(f"{name} {size} {dt:.3f} {size / dt / 1e6:.3f}", flush=True)
        except Exception as e:  # report and go on with the other tool
            print(f"{name} error {type(e).__name__}: {e}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
