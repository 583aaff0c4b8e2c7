"""Captions in the style of HumanML3D, from templates with synonyms, counts, sides, manner and connectives.

Each caption is built from parts that know which action segment they describe, so every word of the
caption knows its frames (function words and the subject know none). The base world says actions in the
order they happen; the extended world's captions (`caption_extended`) also say them out of order ("claps
twice after walking forward", "before he squats, he waves") and say two actions at once ("walks forward
while waving his left hand").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FUNCTION_WORDS",
    "PHRASES",
    "CaptionPart",
    "caption",
    "caption_extended",
    "count_phrase",
    "gerund",
    "phrase_for",
]

# The base world counts to six; seven and eight are said only of the extended world's fast hop series.
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "his",
        "her",
        "their",
        "its",
        "with",
        "to",
        "and",
        "then",
        "after",
        "that",
        "on",
        "in",
        "of",
        "at",
        "while",
        "as",
        "into",
        # the extended world's connectives (never in a base caption)
        "before",
        "but",
        "first",
        "finally",
        "between",
        "he",
        "she",
    ]
)
SUBJECTS = (("a person", "their"), ("a man", "his"), ("someone", "their"), ("the person", "their"),
            ("a woman", "her"), ("a human", "their"), ("the man", "his"))  # fmt: skip
CONNECTIVES = (", then", " then", ", and then", " and then", ". after that,", ", after that", " and", ", and")


@dataclass(frozen=True)
class CaptionPart:
    """A stretch of caption text; `segment` is the index of the action it describes, or None."""

    text: str
    segment: int | None


def count_phrase(n: int, rng: np.random.Generator) -> str:
    """ "once", "twice", "three times", "4 times", ..."""
    if n == 1:
        return str(rng.choice(["once", "one time"]))
    if n == 2:
        return str(rng.choice(["twice", "two times", "2 times"]))
    return f"{NUMBER_WORDS[n]} times" if rng.random() < 0.6 else f"{n} times"


def count_noun(n: int, noun: str, rng: np.random.Generator) -> str:
    """ "a bow", "three squats", "4 punches"."""
    if n == 1:
        return f"{rng.choice(['a', 'one'])} {noun}"
    plural = noun + "es" if noun.endswith(("ch", "sh", "s", "x")) else noun + "s"
    return f"{NUMBER_WORDS[n] if rng.random() < 0.65 else n} {plural}"


# Templates per action: {n} a count phrase, {nn:noun} a counted noun, {side}, {pron}. The template at
# index 3 of each list (when there are more than three) is held out of the training split. A held-out template
# recombines words of training templates, and its verb is one the training templates of its own family use,
# never only another family's (`tests/test_world.py`): "runs slowly forward" for a jog would name, by the words
# training teaches, a slow run, which the world also makes.
PHRASES: dict[str, list[str]] = {
    "walk_forward": ["walks forward", "walks straight ahead", "takes a few steps forward", "walks ahead",
                     "walks forwards"],
    "walk_backward": ["walks backward", "walks backwards", "steps backward", "moves backwards"],
    "walk_sideways": ["walks sideways to the {side}", "walks to the {side}", "moves sideways to the {side}",
                      "steps sideways to the {side}"],
    "walk_turning": ["walks forward while turning {side}", "walks in a curve to the {side}",
                     "walks and turns to the {side}", "walks forward in a curve to the {side}"],
    "walk_circle": ["walks in a circle", "walks around in a circle", "walks in a full circle", "walks around"],
    "jog_forward": ["jogs forward", "jogs straight ahead", "jogs ahead", "jogs straight forward"],
    "jog_backward": ["jogs backward", "jogs backwards", "jogs in reverse"],
    "jog_sideways": ["jogs sideways to the {side}", "jogs to the {side}", "shuffles quickly to the {side}"],
    "jog_turning": ["jogs while turning {side}", "jogs in a curve to the {side}", "jogs and turns to the {side}"],
    "jog_circle": ["jogs in a circle", "jogs around in a circle", "jogs in a full circle", "jogs around"],
    "run_forward": ["runs forward", "runs straight ahead", "sprints forward", "runs ahead"],
    "run_backward": ["runs backward", "runs backwards", "sprints backward", "runs in reverse"],
    "run_sideways": ["runs sideways to the {side}", "runs to the {side}", "sprints sideways to the {side}",
                     "sprints to the {side}"],
    "run_turning": ["runs while turning {side}", "runs in a curve to the {side}", "runs and turns to the {side}"],
    "run_circle": ["runs in a circle", "runs around in a circle", "runs in a full circle", "runs around"],
    "side_steps": ["side steps to the {side} {n}", "steps to the {side} {n}", "shuffles to the {side} {n}",
                   "side steps {n} to the {side}"],
    "jump": ["jumps {n}", "jumps up and down {n}", "jumps in place {n}", "leaps up {n}", "does {nn:jump}"],
    "jump_forward": ["jumps forward {n}", "leaps forward {n}", "jumps ahead {n}", "does {nn:forward jump}"],
    "hop": ["hops on the {side} foot {n}", "hops on one leg {n}", "hops on {pron} {side} leg {n}",
            "hops on the {side} leg {n}"],
    "squat": ["squats {n}", "does {nn:squat}", "squats down {n}", "bends down and squats {n}"],
    "jumping_jacks": ["does {nn:jumping jack}", "does jumping jacks {n}", "performs {nn:jumping jack}",
                      "performs jumping jacks {n}"],
    "wave": ["waves {pron} {side} hand {n}", "waves with the {side} hand {n}", "raises the {side} hand and waves {n}",
             "waves the {side} arm {n}"],
    "clap": ["claps {n}", "claps {pron} hands {n}", "claps hands {n}", "claps with {pron} hands {n}"],
    "kick": ["kicks with the {side} leg {n}", "kicks {pron} {side} foot forward {n}", "kicks forward with the {side} foot {n}",
             "kicks the {side} leg {n}"],
    "punch": ["punches with the {side} arm {n}", "punches forward with {pron} {side} hand {n}", "throws {nn:punch} with the {side} fist",
              "punches with the {side} hand {n}"],
    "raise_arms": ["raises {pron} {side} arms {n}", "lifts {pron} {side} arms up {n}", "raises {pron} {side} arms above {pron} head {n}",
                   "lifts {pron} {side} arms above {pron} head {n}"],
    "arm_circles": ["makes circles with {pron} arms {n}", "circles {pron} arms {n}", "does {nn:arm circle}",
                    "circles {pron} arms around {n}"],
    "bow": ["bows {n}", "bows forward {n}", "bends forward at the waist {n}", "bows down {n}"],
    "turn_around": ["turns around", "turns around to the {side}", "turns to face the other way", "turns back around"],
    "spin": ["spins around {n}", "spins {n}", "turns in a full circle {n}", "spins around in a circle {n}"],
    "crouch": ["crouches down", "crouches", "crouches low and gets back up", "crouches low"],
    "sit_down": ["sits down", "takes a seat", "sits down slowly", "sits"],
    "stand_up": ["stands up", "gets up", "rises to {pron} feet", "stands back up"],
    "stand_still": ["stands still", "stands in place", "stays still", "stays in place"],
}  # fmt: skip
MANNER_OK = {"walk", "jog", "run", "side_steps", "squat", "wave", "clap", "kick", "punch", "bow", "turn_around", "spin",
             "sit_down", "stand_up", "raise_arms", "jump", "jump_forward"}  # fmt: skip
HELD_OUT_TEMPLATE = 3


def template_ids(kind: str, split: str) -> list[int]:
    """Template indices usable in a split: the held-out template only in "test"."""
    n = len(PHRASES[kind])
    ids = list(range(n))
    if n > HELD_OUT_TEMPLATE and split != "test":
        ids.remove(HELD_OUT_TEMPLATE)
    return ids


# The third-person verbs of the templates and their -ing forms ("after walking forward", "while waving").
GERUNDS = {
    "bends": "bending", "bows": "bowing", "circles": "circling", "claps": "clapping", "crouches": "crouching",
    "does": "doing", "gets": "getting", "hops": "hopping", "jogs": "jogging", "jumps": "jumping", "kicks": "kicking",
    "leaps": "leaping", "lifts": "lifting", "makes": "making", "moves": "moving", "performs": "performing",
    "punches": "punching", "raises": "raising", "rises": "rising", "runs": "running", "shuffles": "shuffling",
    "sits": "sitting", "spins": "spinning", "sprints": "sprinting", "squats": "squatting", "stands": "standing",
    "stays": "staying", "steps": "stepping", "takes": "taking", "throws": "throwing", "turns": "turning",
    "walks": "walking", "waves": "waving",
}  # fmt: skip


def gerund(template: str) -> str:
    """A template with its verbs in the -ing form: "bends down and squats {n}" -> "bending down and squatting {n}".

    The verbs are the first word (the second after "side", as in "side steps") and each word after "and"
    that is a verb ("jumps up and down" keeps its "down")."""
    words = template.split(" ")
    for i, word in enumerate(words):
        if (i == 0 or words[i - 1] == "and" or (i == 1 and words[0] == "side")) and word in GERUNDS:
            words[i] = GERUNDS[word]
    return " ".join(words)


def phrase_for(
    kind: str, attrs: dict, pron: str, rng: np.random.Generator, split: str, ing: bool = False
) -> tuple[str, int, bool]:
    """A verb phrase for one action (its verbs in the -ing form if `ing`); returns (text, template index,
    whether it states the count)."""
    ids = template_ids(kind, split)
    index = int(rng.choice(ids))
    template = gerund(PHRASES[kind][index]) if ing else PHRASES[kind][index]
    n = attrs.get("count")
    side = attrs.get("side", "left")
    if kind == "raise_arms":
        side = "both" if side == "both" else side
        template = template.replace("{side} arms", "both arms" if side == "both" else "{side} arm")
    states_count = False
    text = template
    if "{nn:" in text:
        start = text.index("{nn:")
        end = text.index("}", start)
        noun = text[start + 4 : end]
        text = text[:start] + count_noun(n or 1, noun, rng) + text[end + 1 :]
        states_count = True
    if "{n}" in text:
        if n is not None and rng.random() < 0.85:
            text = text.replace("{n}", count_phrase(n, rng))
            states_count = True
        else:
            text = text.replace(" {n}", "")
    text = text.replace("{side}", side).replace("{pron}", pron)
    family = kind.split("_")[0] if kind.split("_")[0] in ("walk", "jog", "run") else kind
    if (
        attrs.get("manner")
        and family in MANNER_OK
        and "slowly" not in text
        and "quickly" not in text
        and rng.random() < 0.8
    ):
        text = f"{attrs['manner']} {text}" if rng.random() < 0.3 else f"{text} {attrs['manner']}"
    if kind.endswith("circle") and "clockwise" in attrs and rng.random() < 0.4:
        text += " clockwise" if attrs["clockwise"] else " counterclockwise"
    return text, index, states_count


def caption(
    kinds_attrs: list[tuple[str, dict]], rng: np.random.Generator, split: str
) -> tuple[list[CaptionPart], list[int], list[bool]]:
    """Parts of one caption for a sequence of actions, with the template used and whether counts are stated."""
    subject, pron = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    parts = [CaptionPart(subject + " ", None)]
    templates, counts = [], []
    for i, (kind, attrs) in enumerate(kinds_attrs):
        if i > 0:
            conn = str(rng.choice(CONNECTIVES))
            parts.append(CaptionPart(conn + " ", None))
        text, index, stated = phrase_for(kind, attrs, pron, rng, split)
        parts.append(CaptionPart(text, i))
        templates.append(index)
        counts.append(stated)
    if rng.random() < 0.7:
        parts.append(CaptionPart(".", None))
    return parts, templates, counts


# --- the extended world: actions said out of the order they happen, and two at once -------------------------

# subject, possessive, and the pronoun that refers back to the subject with a verb in the third person singular
SUBJECTS_EXTENDED = (("a person", "their", "the person"), ("a man", "his", "he"), ("someone", "their", "the person"),
                     ("the person", "their", "the person"), ("a woman", "her", "she"), ("a human", "their", "the human"),
                     ("the man", "his", "he"), ("the woman", "her", "she"))  # fmt: skip
# Forms of a caption of 2 or 3 actions: {0}, {1}, {2} are the actions in the order they happen (a phrase with a
# verb in the third person), {0g} ... the same in the -ing form, {S} the subject, {P} its pronoun, {c} one of
# the base world's connectives. In-order forms, with their weights (the base world's form weighs most), and
# forms that say the actions in another order than they happen.
IN_ORDER_FORMS = {
    2: (("{S} {0}{c} {1}", 4), ("after {S} {0}, {P} {1}", 1), ("{S} {0} before {P} {1}", 1), ("{S} {0} before {1g}", 1),
        ("first {S} {0}, then {P} {1}", 1), ("after {0g}, {S} {1}", 1)),
    3: (("{S} {0}{c} {1}{c} {2}", 3), ("after {S} {0}, {P} {1}{c} {2}", 1),
        ("first {S} {0}, then {P} {1}, and finally {2}", 1), ("{S} {0}{c} {1} before {2g}", 1)),
}  # fmt: skip
REVERSED_FORMS = {
    2: ("{S} {1}, but first {P} {0}", "{S} {1}, but first {0}", "{S} {1}, but before that {P} {0}",
        "{S} {1} after {P} {0}", "{S} {1} after {0g}", "before {S} {1}, {P} {0}", "before {1g}, {S} {0}"),
    3: ("{S} {1}{c} {2}, but first {P} {0}", "{S} {1} after {0g}{c} {2}", "before {S} {2}, {P} {0} and then {1}",
        "{S} {0}, and before {2g}, {P} {1}", "{S} {2} after {0g} and then {1g}",
        "{S} {0}, then {2}, but in between {P} {1}"),
}  # fmt: skip
REVERSED_SHARE = 0.42  # of captions of two or three actions in sequence
_SLOT = re.compile(r"\{(S|P|c|\d+g?)\}")

Unit = list[tuple[int, str, dict]]  # (segment, kind, attributes): an action, or an action and one overlaid on it


def caption_extended(
    units: list[Unit], rng: np.random.Generator, split: str
) -> tuple[list[CaptionPart], list[int], list[bool]]:
    """Parts of one caption of the extended world, the template used for each segment and whether its count is
    stated. `units` are in the order they happen; a unit of two segments is an action with another overlaid on
    it (an arm action while walking), said as "walks forward while waving" or "waves while walking forward"."""
    subject, possessive, pronoun = SUBJECTS_EXTENDED[int(rng.integers(len(SUBJECTS_EXTENDED)))]
    n = len(units)
    if n == 1:
        form = "{S} {0}"
    elif rng.random() < REVERSED_SHARE:
        forms = REVERSED_FORMS[n]
        form = forms[int(rng.integers(len(forms)))]
    else:
        weighted = IN_ORDER_FORMS[n]
        weights = np.array([w for _, w in weighted], dtype=np.float64)
        form = weighted[int(rng.choice(len(weighted), p=weights / weights.sum()))][0]
    templates: dict[int, int] = {}
    counts: dict[int, bool] = {}

    def say(segment: int, kind: str, attrs: dict, ing: bool) -> CaptionPart:
        text, templates[segment], counts[segment] = phrase_for(kind, attrs, possessive, rng, split, ing=ing)
        return CaptionPart(text, segment)

    def phrase(unit: Unit, ing: bool) -> list[CaptionPart]:
        if len(unit) == 1:
            return [say(*unit[0], ing)]
        # "walks forward while waving ..." or "waves ... while walking forward": the second in the -ing form
        first, second = unit if rng.random() < 0.5 else unit[::-1]
        return [say(*first, ing), CaptionPart(" while ", None), say(*second, True)]

    parts: list[CaptionPart] = []
    pos = 0
    for match in _SLOT.finditer(form):
        if match.start() > pos:
            parts.append(CaptionPart(form[pos : match.start()], None))
        slot = match.group(1)
        if slot == "S":
            parts.append(CaptionPart(subject, None))
        elif slot == "P":
            parts.append(CaptionPart(pronoun, None))
        elif slot == "c":
            parts.append(CaptionPart(str(rng.choice(CONNECTIVES)), None))
        else:
            parts.extend(phrase(units[int(slot.rstrip("g"))], ing=slot.endswith("g")))
        pos = match.end()
    if rng.random() < 0.7:
        parts.append(CaptionPart(".", None))
    order = sorted(templates)
    return parts, [templates[s] for s in order], [counts[s] for s in order]
