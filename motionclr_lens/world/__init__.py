"""A procedural world of human motions on HumanML3D's skeleton, captioned, with per-frame ground truth.

`make_sample(seed, split, index)` draws one motion of 1 to 3 actions (2 to 9.8 s at 20 fps) with
captions in HumanML3D's style; `generate` draws many, `write_humanml3d` saves them in HumanML3D's
folder format. The test split holds out whole combinations of actions and caption templates.
`world="extended"` draws a world where word order cannot stand in for time: captions that say actions out of
order, segments of unequal lengths, arm actions overlaid on walking, and wider styles of movement.
"""

from .actions import ACTIONS
from .compose import SPLITS, WORLDS, Caption, Segment, WorldSample, combo_held_out, make_sample
from .dataset import generate, write_humanml3d

__all__ = [
    "ACTIONS",
    "SPLITS",
    "WORLDS",
    "Caption",
    "Segment",
    "WorldSample",
    "combo_held_out",
    "generate",
    "make_sample",
    "write_humanml3d",
]
