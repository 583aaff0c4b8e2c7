"""Sequences of 1 to 3 actions, rendered to HumanML3D features, with captions and per-frame ground truth."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from ..motion import canonical_joints_to_features, canonicalize
from ..text import _WORD
from .actions import ACTIONS, Clip
from .body import Pose, neutral_pose, render
from .captions import FUNCTION_WORDS, HELD_OUT_TEMPLATE, PHRASES, caption

__all__ = ["SPLITS", "Caption", "Segment", "WorldSample", "combo_held_out", "make_sample"]

SPLITS = ("train", "val", "test")
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

    @property
    def count(self) -> int | None:
        return self.attrs.get("count")


@dataclass
class Caption:
    """A caption and, for each of its words (the tokenizer's words), the frames it refers to."""

    text: str
    words: list[str]
    word_frames: list[tuple[int, int] | None]
    word_segments: list[int | None]
    templates: list[int]
    states_count: list[bool]


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

    @property
    def frames(self) -> int:
        return len(self.features)

    def frame_labels(self) -> np.ndarray:
        """(T,) index of the segment each frame belongs to, -1 where no captioned action happens."""
        labels = np.full(self.frames, -1)
        for i, s in enumerate(self.segments):
            labels[s.start : s.end] = i
        return labels

    def to_dict(self) -> dict:
        return {
            "split": self.split,
            "index": self.index,
            "frames": self.frames,
            "fps": self.fps,
            "held_out": self.held_out,
            "segments": [
                {"kind": s.kind, "start": s.start, "end": s.end, "attrs": _jsonable(s.attrs), "reps": s.reps}
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


def make_sample(seed: int, split: str, index: int, captions_per_sample: int = 3) -> WorldSample:
    """The `index`-th sample of a split, deterministic in (seed, split, index)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {list(SPLITS)}")
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
        held_templates = any(
            t == HELD_OUT_TEMPLATE and len(PHRASES[k]) > HELD_OUT_TEMPLATE
            for _, templates, _ in raw_captions
            for t, k in zip(templates, kinds, strict=True)
        )
        # The test split alternates: even indices hold out a combination of actions, odd ones a template.
        if split == "test" and not (held_combo if index % 2 == 0 else held_templates):
            continue
        return _assemble(clips, raw_captions, split, index, held_combo, held_templates)
    raise RuntimeError(f"could not draw a sample for split {split!r}, index {index}")


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


def _assemble(
    clips: list[Clip], raw_captions: list, split: str, index: int, held_combo: bool, held_templates: bool
) -> WorldSample:
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
    T = len(features)
    segments = [
        Segment(c.kind, a, min(b, T), dict(c.attrs), [a + r for r in c.reps if a + r < T])
        for c, (a, b) in zip(clips, spans, strict=True)
    ]
    captions = [_caption_ground_truth(parts, templates, counts, segments) for parts, templates, counts in raw_captions]
    held = (["combination"] if held_combo else []) + (["template"] if held_templates else [])
    return WorldSample(features, canonical[:T].astype(np.float32), segments, captions, split, index, held)


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
    for m in _WORD.finditer(lowered):
        word = m.group()
        seg = next((s for a, b, s in bounds if a <= m.start() < b), None)
        if word in FUNCTION_WORDS:
            seg = None
        words.append(word)
        segs.append(seg)
        frames.append(None if seg is None else (segments[seg].start, segments[seg].end))
    return Caption(text, words, frames, segs, templates, counts)
