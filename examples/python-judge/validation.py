"""Every rule of the judge contract on a request, in one place: each failure names the field path first."""
import re

SCORING_MODES = {1: "LOGPROB_WEIGHTED", 2: "N_SAMPLE", 3: "SINGLE", 4: "REFERENCE"}
REFERENCE = 4
SINGLE = 3
N_SAMPLE = 2
SHARED_REQUEST = 2
DEFAULT_REPEATS = 10
DEFAULT_SAMPLES = 20
CRITERION_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
LIMITS = {
    "items": 10_000, "repeats": 100, "samples": 100, "temperature": 2.0, "concurrency": 256,
    "custom_criteria": 32, "evaluation_steps": 12, "item_id": 256, "text": 200_000, "reference_answers": 100,
    "human_ratings": 100_000,
}


class Invalid(Exception):
    def __init__(self, field, reason):
        super().__init__(f"{field}: {reason}")


def _range(field, value, low, high):
    if value < low or value > high:
        raise Invalid(field, f"must be in {low}..{high}, got {value}")


def validate_judge_config(field, msg, config):
    if not msg.HasField(field):
        raise Invalid(field, "is required")
    if config.mode not in SCORING_MODES:
        raise Invalid(f"{field}.mode", "must be a ScoringMode other than SCORING_MODE_UNSPECIFIED")
    if config.repeat_strategy not in (0, 1, 2):
        raise Invalid(f"{field}.repeat_strategy", f"unknown value {config.repeat_strategy}")
    _range(f"{field}.repeats", config.repeats, 0, LIMITS["repeats"])
    _range(f"{field}.samples", config.samples, 0, LIMITS["samples"])
    _range(f"{field}.temperature", config.temperature, 0, LIMITS["temperature"])
    if config.samples and config.mode != N_SAMPLE:
        raise Invalid(f"{field}.samples", "only SCORING_MODE_N_SAMPLE takes samples")
    if config.mode == REFERENCE and config.repeat_strategy == SHARED_REQUEST:
        raise Invalid(f"{field}.repeat_strategy", "the reference scorer makes no requests")
    if config.greedy:
        if config.temperature > 0:
            raise Invalid(f"{field}.greedy", f"conflicts with temperature {config.temperature}; set one of them")
        repeats = config.repeats or DEFAULT_REPEATS
        samples = (config.samples or DEFAULT_SAMPLES) if config.mode == N_SAMPLE else 1
        if config.mode in (SINGLE, N_SAMPLE) and repeats * samples > 1:
            raise Invalid(f"{field}.greedy", f"temperature 0 would make {repeats * samples} copies of one output")


def validate_custom_criteria(custom, builtin_names):
    if len(custom) > LIMITS["custom_criteria"]:
        raise Invalid("custom_criteria", f"at most {LIMITS['custom_criteria']} criteria")
    seen = set()
    for i, c in enumerate(custom):
        field = f"custom_criteria[{i}]"
        if not CRITERION_NAME.match(c.name):
            raise Invalid(f"{field}.name", "must be 1..64 characters of [a-z0-9_-]")
        if c.name in builtin_names:
            raise Invalid(f"{field}.name", f"'{c.name}' is a built-in criterion; choose another name")
        if c.name in seen:
            raise Invalid(f"{field}.name", f"'{c.name}' is defined twice")
        seen.add(c.name)
        if not c.definition.strip():
            raise Invalid(f"{field}.definition", "must not be empty")
        if not c.anchors:
            raise Invalid(f"{field}.anchors", "must describe at least one score")
        scores = set()
        for j, a in enumerate(c.anchors):
            _range(f"{field}.anchors[{j}].score", a.score, 1, 5)
            if a.score in scores:
                raise Invalid(f"{field}.anchors[{j}].score", f"{a.score} given twice")
            scores.add(a.score)
            if not a.description.strip():
                raise Invalid(f"{field}.anchors[{j}].description", "must not be empty")
        if len(c.evaluation_steps) > LIMITS["evaluation_steps"]:
            raise Invalid(f"{field}.evaluation_steps", f"at most {LIMITS['evaluation_steps']} steps")
        for j, step in enumerate(c.evaluation_steps):
            if not step.strip():
                raise Invalid(f"{field}.evaluation_steps[{j}]", "must not be empty")


def validate_criteria(names, custom, mode, builtin_names):
    validate_custom_criteria(custom, builtin_names)
    known = set(builtin_names) | {c.name for c in custom}
    wanted = list(names) or ["accuracy", "completeness"]
    seen = set()
    for i, name in enumerate(wanted):
        if name not in known:
            raise Invalid(f"criteria[{i}]", f"unknown criterion '{name}'")
        if name in seen:
            raise Invalid(f"criteria[{i}]", f"criterion '{name}' is named twice")
        seen.add(name)
        if mode == REFERENCE and name not in ("accuracy", "completeness"):
            raise Invalid(f"criteria[{i}]", "the reference scorer judges only accuracy and completeness")
    return wanted


def reference_answers_of(item):
    """reference_answers plus the older reference_answer, duplicates and blanks dropped, in order."""
    out = []
    for a in [*item.reference_answers, item.reference_answer]:
        if a.strip() and a not in out:
            out.append(a)
    return out


def validate_item(field, present, item, mode):
    if not present:
        raise Invalid(field, "is required")
    if len(item.item_id) > LIMITS["item_id"]:
        raise Invalid(f"{field}.item_id", f"at most {LIMITS['item_id']} characters")
    if not item.question.strip():
        raise Invalid(f"{field}.question", "must not be empty")
    texts = [("question", item.question), ("answer", item.answer), ("reference_answer", item.reference_answer)]
    texts += [(f"reference_answers[{i}]", a) for i, a in enumerate(item.reference_answers)]
    texts += [(f"contexts[{i}]", c) for i, c in enumerate(item.contexts)]
    texts += [(f"reference_evidence[{i}]", e) for i, e in enumerate(item.reference_evidence)]
    for name, text in texts:
        if len(text) > LIMITS["text"]:
            raise Invalid(f"{field}.{name}", f"at most {LIMITS['text']} characters")
    if len(item.reference_answers) > LIMITS["reference_answers"]:
        raise Invalid(f"{field}.reference_answers", f"at most {LIMITS['reference_answers']} answers")
    if mode == REFERENCE and not reference_answers_of(item) and not any(e.strip() for e in item.reference_evidence):
        raise Invalid(f"{field}.reference_answers", "SCORING_MODE_REFERENCE needs a reference answer or evidence")


def validate_batch_shape(item_count, concurrency):
    _range("items", item_count, 1, LIMITS["items"])
    _range("concurrency", concurrency, 0, LIMITS["concurrency"])


def validate_human_ratings(ratings, items, criteria):
    if len(ratings) > LIMITS["human_ratings"]:
        raise Invalid("human_ratings", f"at most {LIMITS['human_ratings']} ratings")
    ids = {}
    for item in items:
        ids[item.item_id] = ids.get(item.item_id, 0) + 1
    for i, r in enumerate(ratings):
        field = f"human_ratings[{i}]"
        count = ids.get(r.item_id, 0)
        if count == 0:
            raise Invalid(f"{field}.item_id", f"no item of the batch has item_id '{r.item_id}'")
        if count > 1:
            raise Invalid(f"{field}.item_id", f"{count} items of the batch have item_id '{r.item_id}'")
        if r.criterion not in criteria:
            raise Invalid(f"{field}.criterion", f"'{r.criterion}' is not one of the batch's criteria")
        _range(f"{field}.score", r.score, 1, 5)
