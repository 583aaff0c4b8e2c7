"""How a run samples, as one frozen value: what `Generation.settings` holds, what the command line's record.json
and a sweep store write, and what a replay reads back (strictly: an unknown field or a bad value is an error
that names it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch

from .checks import MAX_GUIDANCE_SCALE, MAX_STEPS, check_guidance, check_seed, check_smooth_sigma, check_steps
from .edits import Edit, edit_from_dict, edit_to_dict
from .sampling import SCHEDULERS

__all__ = ["AUTOCAST_DTYPES", "MAX_GUIDANCE_SCALE", "MAX_STEPS", "RunSettings", "check_guidance_scale"]

AUTOCAST_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def check_guidance_scale(scale: object) -> float:
    """A classifier-free guidance scale s as a float: the prediction is uncond + s (cond - uncond), so 1 is the
    conditional model alone (one pass, no guidance), above 1 pushes further toward the prompt, 0 is the
    unconditional model alone and between 0 and 1 mixes the two. Refuses what is not a number in [0, 100] (the
    original samples at 2.5; far above, the difference of the branches overflows)."""
    check_guidance(scale)
    return float(scale)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunSettings(Mapping[str, Any]):
    """Everything a run is asked besides its prompts and lengths.

    `guidance_scale` None is the model's own (`pipe.guidance_scale`); `Generation.settings` holds the scale
    used. `seed` None: the generator given (or none); a seed makes the run's noise `torch.Generator().manual_seed
    (seed)`. `autocast_dtype` is "float16", "bfloat16" or None. The value reads like the dict it writes
    (`settings["steps"]`, `{**settings}`), edits as their plain-data form (`edits.edit_to_dict`).
    """

    scheduler: str = "dpmsolver"
    steps: int = 10
    guidance_scale: float | None = None
    seed: int | None = None
    autocast_dtype: str | None = None
    smooth_sigma: float | None = 1.0
    foot_lock: bool = True
    edits: tuple[Edit, ...] = ()

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; valid: {sorted(SCHEDULERS)}")
        check_steps(self.scheduler, self.steps)  # over the 1000-step schedule (agrees with sampling.check_schedule)
        if self.guidance_scale is not None:
            object.__setattr__(self, "guidance_scale", check_guidance_scale(self.guidance_scale))
        seed = self.seed
        if seed is not None:
            check_seed(seed)
        if self.autocast_dtype is not None and self.autocast_dtype not in AUTOCAST_DTYPES:
            raise ValueError(f"autocast_dtype must be one of {[*AUTOCAST_DTYPES, None]}, got {self.autocast_dtype!r}")
        check_smooth_sigma(self.smooth_sigma)
        if not isinstance(self.foot_lock, bool):
            raise ValueError(f"foot_lock must be true or false, got {self.foot_lock!r}")
        edits = (self.edits,) if isinstance(self.edits, Edit) else tuple(self.edits)
        for edit in edits:
            if not isinstance(edit, Edit):
                raise TypeError(
                    f"edits must be Edit values (Reweight, Erase, Replace, ...), got {type(edit).__name__}: {edit!r}"
                )
        object.__setattr__(self, "edits", edits)

    @staticmethod
    def autocast_name(dtype: torch.dtype | str | None) -> str | None:
        """The name `autocast_dtype` takes for a torch dtype (float32, or None: no autocast)."""
        if isinstance(dtype, torch.dtype):
            return None if dtype == torch.float32 else str(dtype).removeprefix("torch.")
        return dtype

    @property
    def torch_autocast_dtype(self) -> torch.dtype | None:
        return None if self.autocast_dtype is None else AUTOCAST_DTYPES[self.autocast_dtype]

    def generator(self, device: str | torch.device = "cpu") -> torch.Generator | None:
        """The run's noise generator from `seed` (None without a seed)."""
        return None if self.seed is None else torch.Generator(device).manual_seed(self.seed)

    # -- as data -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field, edits as plain data."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["edits"] = [edit_to_dict(e) for e in self.edits]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], ignore: Sequence[str] = ()) -> RunSettings:
        """The settings `to_dict` wrote. Fields it does not know are an error naming them and the valid ones,
        but for the keys in `ignore` (a record's other entries: prompts, lengths, model, ...)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"run settings must be a mapping, got {type(data).__name__}: {data!r}")
        valid = [f.name for f in fields(cls)]
        unknown = sorted(k for k in data if k not in valid and k not in ignore)
        if unknown:
            raise ValueError(f"unknown run settings {unknown}; valid: {valid}")
        values = {k: data[k] for k in valid if k in data}
        edits = values.get("edits", [])
        if not isinstance(edits, list | tuple):
            raise ValueError(f"edits must be a list of edits, got {edits!r}")
        values["edits"] = tuple(edit_from_dict(e) for e in edits)
        return cls(**values)

    # -- read like the dict it writes ------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return self.to_dict()[key] if key == "edits" else getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @classmethod
    def _names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
