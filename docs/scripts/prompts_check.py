"""Do the prompts the README, the notebooks and the demo show do what they say? (docs/embedded.md)

    python docs/scripts/prompts_check.py [--seeds 10] [--model embedded|FOLDER] [--json OUT.json] [--strict]

Every prompt in a code block of README.md, in notebooks/*.ipynb and the demo's default is generated with the
embedded model at the length it is shown with (`EXPECTED`) for seeds 0..N-1 (10 DPM-Solver++ steps, the
model's guidance), and judged on the joints decoded from its features (`joints_of`), as
docs/scripts/evaluate_embedded.py judges
world captions: a one-action prompt passes when the recogniser's main action is the one asked; a sequence when
the recogniser's segments are the actions asked, in time order, nothing else; a stated count when the repetition
counter finds exactly that many (within the action's segment in a sequence). A prompt does what it says when at
least 8 of 10 seeds pass. A prompt shown in the docs but missing from `EXPECTED` is an error: each new prompt
states what it asks for here. The exit status is 0 once measured; with --strict, 1 if any prompt fails.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motionclr_lens.defaults import DEMO_SECONDS

ROOT = Path(__file__).resolve().parents[2]
PROMPT = re.compile(r"(?:a person|a man|a woman) [a-z ,']+?(?=[\"\\])")


@dataclass(frozen=True)
class Expected:
    actions: tuple[str, ...]  # in time order
    count: int | None = None  # of the first action, where stated
    seconds: float = 4.0


EXPECTED: dict[str, Expected] = {
    "a person jumps three times, then walks forward": Expected(("jump", "walk_forward"), 3, DEMO_SECONDS),
    "a person jumps and then walks forward": Expected(("jump", "walk_forward"), None, 5.0),
    "a person waves the right hand, then walks forward": Expected(("wave", "walk_forward"), None, 5.0),
    "a person jumps three times": Expected(("jump",), 3, 4.5),
    "a person jumps twice": Expected(("jump",), 2, 3.0),
    "a person jumps": Expected(("jump",), None, 3.0),
    "a person jumps in place": Expected(("jump",)),
    "a person waves": Expected(("wave",)),
    "a man waves his left hand": Expected(("wave",)),
    "a person walks forward": Expected(("walk_forward",)),
    "a man walks forward": Expected(("walk_forward",)),
    "a person walks": Expected(("walk_forward",)),
    "a person walks forward slowly": Expected(("walk_forward",)),
    "a person squats in place": Expected(("squat",)),
    "a person runs forward": Expected(("run_forward",)),
    "a person hops on one leg": Expected(("hop",)),
}


def shown_prompts() -> list[str]:
    """The prompts the README's code blocks, the notebooks and the demo show."""
    texts = re.findall(r"```[a-z]*\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    texts += [p.read_text() for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    from motionclr_lens.cli import build_parser

    demo = build_parser().parse_args(["demo"]).prompt
    found = {m.strip().rstrip(",") for text in texts for m in PROMPT.findall(text)} | set(demo)
    return sorted(found)


def judge(joints: np.ndarray, expected: Expected, recogniser) -> dict:
    from motionclr_lens.analysis import count_repetitions

    if len(expected.actions) == 1:
        found = [recogniser.main_action(joints)]
        actions_ok = found[0] == expected.actions[0]
        span = (0, len(joints))
    else:
        segments = recogniser.segments(joints)
        found = [s.kind for s in segments]
        actions_ok = found == list(expected.actions)
        first = next((s for s in segments if s.kind == expected.actions[0]), None)
        span = (first.start, first.end) if first is not None else None
    count = None
    if expected.count is not None:
        count = count_repetitions(joints, expected.actions[0], *span).count if span and span[1] - span[0] > 1 else 0
    ok = actions_ok and (expected.count is None or count == expected.count)
    return {"found": found, "count": count, "actions_ok": actions_ok, "pass": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a prompt fails (default: a measurement, 0)"
    )
    args = parser.parse_args()
    from motionclr_lens import load_embedded
    from motionclr_lens.analysis import ActionRecogniser, joints_of

    prompts = shown_prompts()
    unknown = [p for p in prompts if p not in EXPECTED]
    if unknown:
        raise SystemExit(f"prompts shown but not in EXPECTED (say what each asks for): {unknown}")
    pipe = load_embedded(None if args.model == "embedded" else args.model)
    recogniser = ActionRecogniser.default()
    results, failing = {}, []
    print(f"| prompt | seconds | actions right | count right | do what they say (of {args.seeds}) |")
    print("|---|---|---|---|---|")
    for prompt in prompts:
        expected = EXPECTED[prompt]
        runs = []
        for seed in range(args.seeds):
            out = pipe.generate(prompt, seconds=expected.seconds, generator=torch.Generator().manual_seed(seed))
            runs.append(judge(joints_of(out.features[0]), expected, recogniser))
        passed = sum(r["pass"] for r in runs)
        counted = "" if expected.count is None else f"{sum(r['count'] == expected.count for r in runs)}"
        print(f"| {prompt} | {expected.seconds:g} | {sum(r['actions_ok'] for r in runs)} | {counted} | {passed} |")
        results[prompt] = {"expected": expected.__dict__, "runs": runs, "passed": passed}
        if passed < 0.8 * args.seeds:
            failing.append(prompt)
    print(f"\n{len(prompts) - len(failing)} of {len(prompts)} prompts do what they say in at least 80 % of seeds")
    if failing:
        print("not:", failing)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if failing and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
