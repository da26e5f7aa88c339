"""Reference-overlap scoring: agreement of an answer with the gold answers and evidence, mapped to 1..5.

Written from the judge contract (ScoringMode SCORING_MODE_REFERENCE) and the documented rule of ragtune's
TypeScript reference scorer (services/judge/src/reference-scorer.ts, "reference-scorer@2"):

    support     = share of the answer's content tokens found in gold answer + evidence   (precision)
    goldRecall  = share of the gold answer's tokens found in the answer                 (recall; 1 when the
                                                                                        whole gold answer
                                                                                        appears verbatim)
    accuracy     = 1 + 4 * (goldRecall + support) / 2
    completeness = 1 + 4 * goldRecall

With no gold answer but evidence, goldRecall falls back to support. With several gold answers each criterion
takes its best match over them. Tokens are SQuAD-style: lower case, accents stripped, punctuation to spaces,
a short stopword list removed (unless the text is only stopwords).

Where this can differ from the TypeScript scorer: "punctuation" here is every character whose Unicode category
is not a letter (L*), number (N*) or whitespace, as Python's unicodedata of this interpreter sees it; JavaScript's
\\p{L}\\p{N}\\s follows the Node runtime's Unicode version, so a character new in one version and not the other
can tokenize differently. Combining marks are stripped by category (Mn) rather than by the U+0300..U+036F range,
so marks outside that block (e.g. Devanagari signs) are dropped here and kept there.
"""
import unicodedata

VERSION = "python-reference-overlap@1"
STOPWORDS = set("a an the of and or to in on at by for with is are was were be been it its this that as from".split())


def normalize_text(text):
    decomposed = unicodedata.normalize("NFKD", text.lower())
    kept = []
    for ch in decomposed:
        category = unicodedata.category(ch)
        if category == "Mn":
            continue
        kept.append(ch if category[0] in "LN" or ch.isspace() else " ")
    return " ".join("".join(kept).split())


def content_tokens(text):
    tokens = normalize_text(text).split()
    content = [t for t in tokens if t not in STOPWORDS]
    # An answer made only of stopwords ("it is") still has tokens to compare.
    return content or tokens


def _overlap(tokens, pool):
    remaining = {}
    for t in pool:
        remaining[t] = remaining.get(t, 0) + 1
    shared = 0
    for t in tokens:
        if remaining.get(t, 0) > 0:
            shared += 1
            remaining[t] -= 1
    return shared


def _match(answer, reference, evidence_tokens, index):
    answer_tokens = content_tokens(answer)
    gold = content_tokens(reference)
    support = _overlap(answer_tokens, gold + evidence_tokens) / len(answer_tokens) if answer_tokens else 0.0
    if not gold:
        gold_recall = support
    elif answer_tokens and f" {normalize_text(reference)} " in f" {normalize_text(answer)} ":
        gold_recall = 1.0
    else:
        gold_recall = _overlap(gold, answer_tokens) / len(gold)
    return {
        "accuracy": 1 + 4 * ((gold_recall + support) / 2),
        "completeness": 1 + 4 * gold_recall,
        "support": support,
        "gold_recall": gold_recall,
        "reference": index if gold else -1,
    }


def score_against_reference(answer, reference_answers, reference_evidence):
    """Returns {criterion: (score, rationale)} for accuracy and completeness."""
    evidence = [t for e in reference_evidence for t in content_tokens(e)]
    references = [r for r in reference_answers if content_tokens(r)]
    if not references and not evidence:
        raise ValueError("the reference scorer needs a reference answer or reference evidence")
    matches = [_match(answer, r, evidence, i) for i, r in enumerate(references or [""])]
    result = {}
    for criterion in ("accuracy", "completeness"):
        best = matches[0]
        for m in matches[1:]:
            if m[criterion] > best[criterion]:
                best = m
        which = f" against gold answer {best['reference'] + 1} of {len(references)}" if len(references) > 1 else ""
        rationale = f"support={best['support']:.3f} goldRecall={best['gold_recall']:.3f}{which} (token overlap, {VERSION})"
        result[criterion] = (best[criterion], rationale)
    return result
