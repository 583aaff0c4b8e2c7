"""Sequences of 1 to 3 actions, rendered to HumanML3D features, with captions and per-frame ground truth.

Two worlds draw them. The base world (the one the shipped model learnt) says actions in the order they
happen and gives each the length its own draw gives it. The extended world draws where word order cannot
stand in for time: captions that say actions out of order, segments of unequal lengths, an arm action
overlaid on walking or jogging, and wider styles of movement (`docs/world.md`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..motion import canonical_joints_to_features, canonicalize
from ..text import WORD_PATTERN
from .actions import ACTIONS, Clip, plateau
from .body import Pose, neutral_pose, render
from .captions import FUNCTION_WORDS, HELD_OUT_TEMPLATE, PHRASES, Unit, caption, caption_extended

__all__ = ["SPLITS", "WORLDS", "Caption", "Segment", "WorldSample", "combo_held_out", "make_sample"]

SPLITS = ("train", "val", "test")
WORLDS = ("base", "extended")
MIN_FRAMES = 40  # 2 s at 20 fps
MAX_FRAMES = 196  # 9.8 s
COMBO_HOLDOUT_MODULUS = 10  # one ordered combination of actions in ten is kept for the test split


@dataclass
class Segment:
    """One action of a sample: frames [start, end), its attributes, and the frame of each repetition."""

    kind: str
    start: int
    end: int
    attrs: dict
    reps: list[int]
    during: int | None = None  # extended world: the segment this one is overlaid on (an arm action while walking)

    @property
    def count(self) -> int | None:
        return self.attrs.get("count")


@dataclass
class Caption:
    """A caption and, for each of its words (the tokenizer's words), the frames it refers to.

    `phrase_order` is the segment of each action phrase in the order the caption says them; `order_reversed`
    whether that differs from the order the segments start in (always False in the base world).
    """

    text: str
    words: list[str]
    word_frames: list[tuple[int, int] | None]
    word_segments: list[int | None]
    templates: list[int]
    states_count: list[bool]
    phrase_order: list[int] = field(default_factory=list)
    order_reversed: bool = False


@dataclass
class WorldSample:
    """A motion of the world: features (T, 263), joints (T, 22, 3), ground truth, captions."""

    features: np.ndarray
    joints: np.ndarray
    segments: list[Segment]
    captions: list[Caption]
    split: str
    index: int
    held_out: list[str] = field(default_factory=list)
    fps: float = 20.0
    world: str = "base"

    @property
    def frames(self) -> int:
        return len(self.features)

    def frame_labels(self) -> np.ndarray:
        """(T,) index of the segment each frame belongs to, -1 where no captioned action happens (where an
        action is overlaid on another, its own)."""
        labels = np.full(self.frames, -1)
        for i, s in enumerate(self.segments):
            labels[s.start : s.end] = i
        return labels

    def to_dict(self) -> dict:
        return {
            "world": self.world,
            "split": self.split,
            "index": self.index,
            "frames": self.frames,
            "fps": self.fps,
            "held_out": self.held_out,
            "segments": [
                {
                    "kind": s.kind,
                    "start": s.start,
                    "end": s.end,
                    "attrs": _jsonable(s.attrs),
                    "reps": s.reps,
                    "during": s.during,
                }
                for s in self.segments
            ],
            "captions": [
                {
                    "text": c.text,
                    "words": c.words,
                    "word_frames": c.word_frames,
                    "word_segments": c.word_segments,
                    "templates": c.templates,
                    "states_count": c.states_count,
                    "phrase_order": c.phrase_order,
                    "order_reversed": c.order_reversed,
                }
                for c in self.captions
            ],
        }


def _jsonable(attrs: dict) -> dict:
    return {k: (float(v) if isinstance(v, np.floating | float) else v) for k, v in attrs.items()}


def combo_held_out(kinds: tuple[str, ...]) -> bool:
    """Whether an ordered combination of two or more actions is reserved for the test split."""
    return len(kinds) >= 2 and zlib.crc32("|".join(kinds).encode()) % COMBO_HOLDOUT_MODULUS == 0


def _choose_kinds(rng: np.random.Generator, n: int) -> tuple[str, ...]:
    kinds: list[str] = []
    state = "stand"
    for _i in range(n):
        options = [
            name
            for name, spec in ACTIONS.items()
            if spec.start_state == state and (not kinds or name != kinds[-1]) and not (name == "stand_still" and n > 1)
        ]
        name = str(rng.choice(options))
        kinds.append(name)
        state = ACTIONS[name].end_state
    return tuple(kinds)


def _chain(clips: list[Clip]) -> tuple[Pose, list[tuple[int, int]]]:
    """Concatenate clips, each moved to where (and facing where) the previous one ended."""
    pose = None
    spans = []
    offset_xz = np.zeros(2)
    yaw = 0.0
    frame = 0
    for clip in clips:
        moved = clip.pose.moved(offset_xz, yaw)
        pose = moved if pose is None else pose.concat(moved)
        spans.append((frame, frame + clip.frames))
        frame += clip.frames
        offset_xz = moved.root[-1, [0, 2]]
        yaw = float(moved.yaw[-1])
    assert pose is not None
    return pose, spans


def make_sample(seed: int, split: str, index: int, captions_per_sample: int = 3, world: str = "base") -> WorldSample:
    """The `index`-th sample of a split of a world, deterministic in (seed, split, index, world)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {list(SPLITS)}")
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}; valid: {list(WORLDS)}")
    if world == "extended":
        return _make_extended(seed, split, index, captions_per_sample)
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    for _attempt in range(500):
        n = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
        if split == "test" and index % 2 == 0:
            n = int(rng.choice([2, 3]))
        kinds = _choose_kinds(rng, n)
        held_combo = combo_held_out(kinds)
        if split != "test" and held_combo:
            continue
        clips = _make_clips(rng, kinds)
        if clips is None:
            continue
        cap_rng = np.random.default_rng([seed, SPLITS.index(split), index, 1])
        kinds_attrs = [(c.kind, c.attrs) for c in clips]
        raw_captions = [caption(kinds_attrs, cap_rng, split) for _ in range(captions_per_sample)]
        held_templates = _holds_template(raw_captions, kinds)
        # The test split alternates: even indices hold out a combination of actions, odd ones a template.
        if split == "test" and not (held_combo if index % 2 == 0 else held_templates):
            continue
        return _assemble(clips, raw_captions, split, index, held_combo, held_templates)
    raise RuntimeError(f"could not draw a sample for split {split!r}, index {index}")


def _holds_template(raw_captions: list, kinds: Sequence[str]) -> bool:
    """Whether any caption uses an action's held-out template (where the action has one)."""
    return any(
        t == HELD_OUT_TEMPLATE and len(PHRASES[k]) > HELD_OUT_TEMPLATE
        for _, templates, _ in raw_captions
        for t, k in zip(templates, kinds, strict=True)
    )


def _make_clips(rng: np.random.Generator, kinds: tuple[str, ...]) -> list[Clip] | None:
    clips: list[Clip] = []
    used = 0
    for i, kind in enumerate(kinds):
        reserve = 30 * (len(kinds) - i - 1)
        budget = MAX_FRAMES + 1 - used - reserve
        clip = ACTIONS[kind].make(rng, budget)
        if clip is None:
            return None
        clips.append(clip)
        used += clip.frames
    return clips


def _render(clips: list[Clip]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Chain clips and render them: features (T, 263), joints (T, 22, 3), and the frames of each clip."""
    pose, spans = _chain(clips)
    total = len(pose)
    if total < MIN_FRAMES + 1:  # stand a little at the end, uncaptioned
        tail = neutral_pose(MIN_FRAMES + 1 - total).moved(pose.root[-1, [0, 2]], float(pose.yaw[-1]))
        if clips[-1].end_state == "sit":
            tail = pose_hold(pose, MIN_FRAMES + 1 - total)
        pose = pose.concat(tail)
    joints = render(pose)
    canonical = canonicalize(joints, retarget_bones=False)  # the body is built on the target skeleton
    features = canonical_joints_to_features(canonical, continuous_heading=True)
    return features, canonical[: len(features)].astype(np.float32), spans


def _segment(clip: Clip, start: int, end: int, T: int, during: int | None = None) -> Segment:
    return Segment(
        clip.kind, start, min(end, T), dict(clip.attrs), [start + r for r in clip.reps if start + r < T], during
    )


def _held(held_combo: bool, held_templates: bool) -> list[str]:
    return (["combination"] if held_combo else []) + (["template"] if held_templates else [])


def _assemble(
    clips: list[Clip], raw_captions: list, split: str, index: int, held_combo: bool, held_templates: bool
) -> WorldSample:
    features, joints, spans = _render(clips)
    T = len(features)
    segments = [_segment(c, a, b, T) for c, (a, b) in zip(clips, spans, strict=True)]
    captions = [_caption_ground_truth(parts, templates, counts, segments) for parts, templates, counts in raw_captions]
    return WorldSample(features, joints, segments, captions, split, index, _held(held_combo, held_templates))


# --- the extended world ------------------------------------------------------------------------------------------

# Arm actions are overlaid on walking and jogging along a line or a circle (not on turning: its templates already
# say "while turning"); one locomotion in three of those carries one.
OVERLAY_ON = tuple(
    f"{gait}_{pattern}" for gait in ("walk", "jog") for pattern in ("forward", "backward", "sideways", "circle")
)
OVERLAID = ("wave", "clap", "punch", "raise_arms", "arm_circles")
OVERLAY_SHARE = 1 / 3
BLEND_FRAMES = 6  # the arms pass from the gait's swing to the arm action over this many frames


@dataclass
class _Overlay:
    clip: Clip
    offset: int  # the frame of the locomotion clip the arm action starts at


def _make_extended(seed: int, split: str, index: int, captions_per_sample: int) -> WorldSample:
    split_id = SPLITS.index(split)
    rng = np.random.default_rng([seed, split_id, index, 2])
    for _attempt in range(500):
        n = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
        if split == "test" and index % 2 == 0:
            n = int(rng.choice([2, 3]))
        kinds = _choose_kinds(rng, n)
        overlays: list[str | None] = []
        for kind in kinds:
            unsaid = [k for k in OVERLAID if k not in kinds and k not in overlays]  # each action once in a motion
            overlays.append(str(rng.choice(unsaid)) if kind in OVERLAY_ON and rng.random() < OVERLAY_SHARE else None)
        # the kinds of the segments, in order: an overlaid arm action right after the locomotion it rides on
        flat = tuple(k for kind, over in zip(kinds, overlays, strict=True) for k in (kind, over) if k is not None)
        held_combo = combo_held_out(flat)
        if split != "test" and held_combo:
            continue
        made = _make_units(rng, kinds, overlays)
        if made is None:
            continue
        clips, overlaid = made
        features, joints, spans = _render(clips)
        T = len(features)
        segments: list[Segment] = []
        units: list[Unit] = []
        for clip, (a, b), over in zip(clips, spans, overlaid, strict=True):
            unit = [(len(segments), clip.kind, clip.attrs)]
            segments.append(_segment(clip, a, b, T))
            if over is not None:
                unit.append((len(segments), over.clip.kind, over.clip.attrs))
                start = a + over.offset
                segments.append(_segment(over.clip, start, start + over.clip.frames, T, during=len(segments) - 1))
            units.append(unit)
        cap_rng = np.random.default_rng([seed, split_id, index, 3])
        raw_captions = [caption_extended(units, cap_rng, split) for _ in range(captions_per_sample)]
        held_templates = _holds_template(raw_captions, flat)
        if split == "test" and not (held_combo if index % 2 == 0 else held_templates):
            continue
        captions = [_caption_ground_truth(p, t, c, segments) for p, t, c in raw_captions]
        held = _held(held_combo, held_templates)
        return WorldSample(features, joints, segments, captions, split, index, held, world="extended")
    raise RuntimeError(f"could not draw a sample for split {split!r}, index {index}")


def _shares(rng: np.random.Generator, n: int) -> np.ndarray:
    """The share of the motion each of n actions is asked to take: the first of two 15 to 85 %, each of three
    10 to 80 %."""
    if n == 1:
        return np.ones(1)
    if n == 2:
        first = float(rng.uniform(0.15, 0.85))
        return np.array([first, 1 - first])
    return 0.1 + 0.7 * rng.dirichlet(np.full(n, 1.5))


def _make_units(
    rng: np.random.Generator, kinds: tuple[str, ...], overlays: list[str | None]
) -> tuple[list[Clip], list[_Overlay | None]] | None:
    """Clips of unequal lengths, each asked for its share of a drawn total, with arm actions overlaid. Once an
    action is made, the total is rescaled to what it took, so that an action that could not be as short or as
    long as asked does not pull the shares back toward equal."""
    n = len(kinds)
    shares = _shares(rng, n)
    total = rng.uniform(110 if n == 2 else 140, MAX_FRAMES)
    clips: list[Clip] = []
    overlaid: list[_Overlay | None] = []
    used = 0
    for i, (kind, over) in enumerate(zip(kinds, overlays, strict=True)):
        budget = MAX_FRAMES + 1 - used - 30 * (n - i - 1)
        if i > 0:
            total = used / shares[:i].sum()
        target = None if n == 1 else int(round(min(shares[i] * total, budget)))  # a single action: its own length
        clip = ACTIONS[kind].make(rng, budget, target=target, variety=True)
        if clip is None:
            return None
        extra = None
        if over is not None:
            arm = ACTIONS[over].make(rng, clip.frames, target=int(clip.frames * rng.uniform(0.5, 1.0)), variety=True)
            if arm is None:
                return None
            extra = _Overlay(arm, int(rng.integers(0, clip.frames - arm.frames + 1)))
            clip = _overlay(clip, extra)
        clips.append(clip)
        overlaid.append(extra)
        used += clip.frames
    return clips, overlaid


def _overlay(clip: Clip, over: _Overlay) -> Clip:
    """The clip with the arms of an arm action in place of its own over the action's frames: both arms, or the
    one that waves or is raised alone. The gait's swing blends into the arm action and back."""
    arms = [0, 1]
    side = over.clip.attrs.get("side")
    if over.clip.kind in ("wave", "raise_arms") and side in ("left", "right"):
        arms = [0 if side == "left" else 1]
    pose = clip.pose.copy()
    T = over.clip.frames
    w = plateau(np.arange(T, dtype=np.float64), 0, BLEND_FRAMES, T - 1 - BLEND_FRAMES, T - 1)[:, None]
    window = slice(over.offset, over.offset + T)
    for arm in arms:
        pose.arms[window, arm] = (1 - w) * pose.arms[window, arm] + w * over.clip.pose.arms[:, arm]
    return Clip(clip.kind, pose, clip.attrs, clip.reps, clip.start_state, clip.end_state)


def pose_hold(pose: Pose, frames: int) -> Pose:
    """The last frame of a pose, held for `frames` frames."""
    fields = ("root", "yaw", "spine", "neck", "arms", "ankles", "foot_yaw", "foot_pitch")
    return Pose(**{f: np.repeat(getattr(pose, f)[-1:], frames, axis=0) for f in fields})


def _caption_ground_truth(parts: list, templates: list[int], counts: list[bool], segments: list[Segment]) -> Caption:
    text = "".join(p.text for p in parts).strip()
    bounds = []
    pos = 0
    for p in parts:
        bounds.append((pos, pos + len(p.text), p.segment))
        pos += len(p.text)
    lowered = text.lower()
    words, frames, segs = [], [], []
    order: list[int] = []  # the segments in the order the caption says them
    for p in parts:
        if p.segment is not None and p.segment not in order:
            order.append(p.segment)
    for m in WORD_PATTERN.finditer(lowered):
        word = m.group()
        seg = next((s for a, b, s in bounds if a <= m.start() < b), None)
        if word in FUNCTION_WORDS:
            seg = None
        words.append(word)
        segs.append(seg)
        frames.append(None if seg is None else (segments[seg].start, segments[seg].end))
    in_time = sorted(order, key=lambda i: (segments[i].start, i))
    return Caption(text, words, frames, segs, templates, counts, order, order != in_time)
