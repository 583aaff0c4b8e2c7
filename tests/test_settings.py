"""Run settings as one value: checked when made, written and read back exactly, read like the dict they write."""

from __future__ import annotations

import json

import pytest
import torch

from motionclr_lens.edits import Erase, Reweight
from motionclr_lens.settings import RunSettings


def test_settings_round_trip_through_json():
    settings = RunSettings(
        scheduler="ddim",
        steps=25,
        guidance_scale=2,
        seed=7,
        autocast_dtype="bfloat16",
        smooth_sigma=None,
        foot_lock=False,
        edits=(Reweight(-0.4, word="jumps"), Erase(word="walks", seconds=(0.5, 1.5))),
    )
    again = RunSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again == settings and isinstance(again.guidance_scale, float)
    assert settings["steps"] == 25 and settings["edits"][0]["kind"] == "Reweight"
    assert {**settings}.keys() == settings.to_dict().keys()
    assert settings.torch_autocast_dtype is torch.bfloat16
    assert RunSettings.autocast_name(torch.float16) == "float16" and RunSettings.autocast_name(torch.float32) is None
    assert torch.equal(
        torch.randn(3, generator=settings.generator()), torch.randn(3, generator=torch.Generator().manual_seed(7))
    )
    assert RunSettings().generator() is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scheduler": "euler"}, r"unknown scheduler 'euler'; valid: \['ddim', 'ddpm', 'deis', 'dpmsolver', 'pndm'\]"),
        ({"steps": 0}, r"steps must be a positive int no larger than 1000 .*got 0"),
        ({"steps": 1001}, r"got 1001"),
        ({"steps": 2.5}, r"got 2\.5"),
        ({"steps": True}, r"got True"),
        ({"guidance_scale": float("inf")}, r"guidance_scale must be finite and >= 0 .*got inf"),
        ({"guidance_scale": -1}, r"guidance_scale must be finite and >= 0 \(1: the conditional model alone.*got -1"),
        ({"guidance_scale": "2"}, r"guidance_scale must be a number, got '2'"),
        ({"seed": "0"}, r"seed must be an int in \[0, 2\*\*64 - 1\] or None, got '0'"),
        ({"seed": -1}, r"got -1"),
        ({"seed": 2**64}, r"got 18446744073709551616"),
        ({"autocast_dtype": "int8"}, r"autocast_dtype must be one of \['float16', 'bfloat16', None\], got 'int8'"),
        ({"smooth_sigma": -1.0}, r"smooth_sigma must be a finite number >= 0 or None, at most 100 frames, got -1\.0"),
        ({"foot_lock": "yes"}, r"foot_lock must be true or false, got 'yes'"),
    ],
)
def test_bad_settings_name_the_value_and_the_valid_ones(fields, message):
    with pytest.raises(ValueError, match=message):
        RunSettings(**fields)


def test_reading_settings_is_strict():
    with pytest.raises(ValueError, match=r"unknown run settings \['stpes'\]; valid: \['scheduler', 'steps'"):
        RunSettings.from_dict({"stpes": 10})
    assert RunSettings.from_dict({"steps": 5, "prompts": ["x"]}, ignore=("prompts",)).steps == 5
    with pytest.raises(ValueError, match="an edit must be a mapping with a 'kind'"):
        RunSettings.from_dict({"edits": ["Reweight(alpha=0.3)"]})
    with pytest.raises(TypeError, match="edits must be Edit values"):
        RunSettings(edits=("jumps",))  # type: ignore[arg-type]


def test_schedules_a_scheduler_cannot_run_are_refused():
    with pytest.raises(ValueError, match="the pndm scheduler needs 4 steps or more, got 3"):
        RunSettings(scheduler="pndm", steps=3)
    with pytest.raises(ValueError, match=r"the deis scheduler repeats timesteps at 1000 steps.*at most 999 steps"):
        RunSettings(scheduler="deis", steps=1000)
    assert RunSettings(scheduler="dpmsolver", steps=100).steps == 100  # repeats of its rounded timesteps are harmless
    with pytest.raises(ValueError, match=r"at most 100, got 1e\+30"):
        RunSettings(guidance_scale=1e30)
