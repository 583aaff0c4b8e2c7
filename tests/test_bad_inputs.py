"""Bad input, through the API and the command line: refused before any sampling, with the value named.

Each API case runs under a hook that records whether a run started (every run tells its hooks its plan before
the first step): a refusal must come first. Each CLI case must exit with status 2 and a one-line message.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionclr_lens import Hook, load_embedded, use_hooks
from motionclr_lens.cli import main
from motionclr_lens.inversion import invert
from motionclr_lens.motion import features_to_joints


@pytest.fixture(scope="module")
def pipe():
    return load_embedded()


@pytest.fixture(scope="module")
def motion(pipe):
    out = pipe.generate("a person walks forward", lengths=40, steps=2, generator=torch.Generator().manual_seed(0))
    return out.features[0]


def _with_nan(features: np.ndarray, frames: list[int]) -> np.ndarray:
    bad = features.copy()
    bad[frames, 3] = np.nan
    return bad


GENERATE = [
    ({"lengths": True}, "lengths must be whole numbers of frames, got True"),
    ({"lengths": "80"}, "got '80'"),
    ({"lengths": 80.5}, "got 80.5"),
    ({"lengths": [40, None]}, "got None"),
    ({"lengths": 0}, r"length 0 frames is outside \[1, 196\]"),
    ({"seconds": float("inf")}, "seconds must be finite numbers, got inf"),
    ({"seconds": float("nan")}, "got nan"),
    ({"seconds": [1.0, "x"]}, "got 'x'"),
    ({"seconds": 12}, r"length 240 frames is outside \[1, 196\]"),
    ({"lengths": 40, "seconds": 2}, "give lengths .frames. or seconds, not both"),
    ({"steps": 0}, "steps must be a positive int no larger than 1000"),
    ({"steps": 1001}, "got 1001"),
    ({"steps": -3}, "got -3"),
    ({"steps": 2.0}, "got 2.0"),
    ({"scheduler": "euler"}, r"unknown scheduler 'euler'; valid: \['ddim'"),
    ({"guidance_scale": -1.0}, r"guidance_scale must be finite and >= 0 .*got -1.0"),
    ({"guidance_scale": float("nan")}, "got nan"),
    ({"guidance_scale": "2"}, "guidance_scale must be a number, got '2'"),
    ({"smooth_sigma": -1.0}, "smooth_sigma must be a finite number >= 0 or None, at most 100 frames, got -1.0"),
    ({"smooth_sigma": 1e9}, "smooth_sigma must be a finite number >= 0 or None, at most 100 frames, got 1000000000.0"),
    ({"smooth_sigma": float("inf")}, "got inf"),
    ({"foot_lock": "no"}, "foot_lock must be true or false, got 'no'"),
    ({"autocast_dtype": torch.int8}, "autocast_dtype must be one of"),
    ({"edits": ["jumps"]}, "edits must be Edit values .* got str: 'jumps'"),
    ({"noise": torch.zeros(1, 10, 263)}, r"noise has shape \(1, 10, 263\), expected \(1, 40, 263\)"),
]


@pytest.mark.parametrize(("options", "message"), GENERATE, ids=[m for _, m in GENERATE])
def test_generate_refuses_before_sampling(pipe, options, message):
    started = []
    kwargs = dict(options) if "seconds" in options else {"lengths": 40, **options}
    per_prompt = [v for k, v in options.items() if k in ("lengths", "seconds") and isinstance(v, list)]
    prompts = ["a person walks forward", "a person jumps"][: len(per_prompt[0]) if per_prompt else 1]
    with (
        use_hooks(Hook(lambda t, c: None, on_run=started.append)),
        pytest.raises((ValueError, TypeError), match=message),
    ):
        pipe.generate(prompts, **kwargs)
    assert started == []


def test_prompts_are_refused_by_name(pipe):
    for prompts, message in [([], "no prompts given"), ([""], "got ''"), (["ok", 5], "got 5"), ([None], "got None")]:
        with pytest.raises(ValueError, match=message):
            pipe.generate(prompts, lengths=40)


def test_nan_features_are_refused_with_their_frames(pipe, motion):
    bad = _with_nan(motion, [3, 17])
    with pytest.raises(ValueError, match="features hold NaN or Inf at 2 of 40 frames: 3, 17"):
        pipe.probe(bad, "a person walks")
    with pytest.raises(ValueError, match="at 2 of 40 frames: 3, 17"):
        features_to_joints(bad)
    with pytest.raises(ValueError, match="features must have shape"):
        invert(pipe, motion[:, :10], "a person walks")
    with pytest.raises(ValueError, match="guidance_scale must be finite and >= 0"):
        invert(pipe, motion, "a person walks", guidance_scale=-2)
    with pytest.raises(ValueError, match="timestep must be an int in"):
        pipe.probe(motion, "a person walks", timestep=1000)


CLI = [
    (["generate", "--prompt", "a person walks", "--seconds", "inf"], "seconds must be finite numbers, got inf"),
    (["generate", "--prompt", "a person walks", "--seconds", "nan"], "got nan"),
    (["generate", "--prompt", "a person walks", "--steps", "0"], "steps must be a positive int"),
    (["generate", "--prompt", "a person walks", "--steps", "1001"], "got 1001"),
    (["generate", "--prompt", "a person walks", "--steps", "-3"], "got -3"),
    (["generate", "--prompt", "a person walks", "--guidance", "-1"], "guidance_scale must be finite and >= 0"),
    (["generate", "--prompt", "a person walks", "--seed", str(2**64)], r"seed must be an int in \[0, 2\*\*64 - 1\]"),
    (["generate", "--prompt", "a person walks", "--seed", "-1"], "got -1"),
    (["generate", "--prompt", "a person walks", "--model", "./typo"], "model './typo' is not a folder here"),
    (["generate", "--prompt", "a person walks", "--scheduler", "pndm", "--steps", "3"], "needs 4 steps or more"),
    (["generate", "--prompt", "a person walks", "--scheduler", "deis", "--steps", "1000"], "at most 999 steps"),
    (["generate", "--prompt", "a person walks", "--capture-budget", "0"], "--capture-budget must be a positive"),
]


@pytest.mark.parametrize(("argv", "message"), CLI, ids=[" ".join(a[2:]) for a, _ in CLI])
def test_the_command_line_exits_2_naming_the_value(tmp_path, capsys, argv, message):
    import re

    assert main([*argv, "--out", str(tmp_path / "out"), "--quiet", "--no-gif"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and re.search(message, err) and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_record_is_read_strictly(tmp_path, capsys):
    import json

    good = {"prompts": ["a person walks"], "lengths": [40], "seed": 0, "scheduler": "dpmsolver", "steps": 2}
    cases = [
        ({**good, "guidance_scale": 1.5, "seed": "0"}, r"seed must be an int in \[0, 2\*\*64 - 1\] or None, got '0'"),
        ({**good, "guidance_scale": 1.5, "stpes": 3}, r"unknown run settings \['stpes'\]"),
        ({**good, "guidance_scale": 1.5, "edit_values": [{"kind": "Blur"}]}, "Blur"),
        (["not", "an", "object"], "is not a JSON object"),
        ({**good}, r"lacks \['guidance_scale'\]"),
    ]
    for i, (record, message) in enumerate(cases):
        path = tmp_path / f"record{i}.json"
        path.write_text(json.dumps(record))
        assert main(["generate", "--from-record", str(path), "--out", str(tmp_path / f"o{i}"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and __import__("re").search(message, err), err


def test_a_replay_is_strict(tmp_path, capsys):
    """A replay takes every setting from its record, with the record's model or none."""
    import json

    first = tmp_path / "first"
    argv = ["--quiet", "--no-gif"]
    assert (
        main(["generate", "--prompt", "a person jumps", "--seconds", "1", "--steps", "2", "--out", str(first), *argv])
        == 0
    )
    record = first / "record.json"
    capsys.readouterr()
    assert (
        main(["generate", "--from-record", str(record), "--steps", "5", "--seed", "3", "--out", str(tmp_path / "a")])
        == 2
    )
    assert "--steps, --seed given with --from-record" in capsys.readouterr().err
    other = json.loads(record.read_text())
    other["model_hash"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert main(["generate", "--from-record", str(tmp_path / "other.json"), "--out", str(tmp_path / "b"), *argv]) == 2
    assert "is not the record's 0000000000000000...: it would make another motion" in capsys.readouterr().err
    allowed = ["--allow-other-model", "--out", str(tmp_path / "c")]
    assert main(["generate", "--from-record", str(tmp_path / "other.json"), *allowed, *argv]) == 0
    other["model"] = "EvanTHU/MotionCLR"
    (tmp_path / "hub.json").write_text(json.dumps(other))
    assert main(["generate", "--from-record", str(tmp_path / "hub.json"), "--out", str(tmp_path / "d"), *argv]) == 2
    assert "made with the model 'EvanTHU/MotionCLR': name it with --model" in capsys.readouterr().err


EDIT_FIELDS = [
    ({"kind": "Reweight", "alpha": 0.3, "word": "jumps", "rows": 0}, "Reweight: rows must be a list of whole numbers"),
    ({"kind": "Reweight", "alpha": 0.3, "word": ["x"]}, r"word must be a word of the prompt .* got \['x'\]"),
    ({"kind": "Reweight", "alpha": "big", "word": "jumps"}, "alpha must be a finite number, got 'big'"),
    ({"kind": "Reweight", "alpha": 0.3, "word": "jumps", "steps": [1.5]}, r"steps must be .* got \[1\.5\]"),
    ({"kind": "Erase", "word": "jumps", "seconds": [0, "x"]}, r"seconds must be a window .* got \[0, 'x'\]"),
    ({"kind": "Erase", "word": "jumps", "factor": None}, "factor must be a finite number, got None"),
    ({"kind": "Ground", "word": "jumps", "seconds": []}, r"non-empty list of them, got \[\]"),
    ({"kind": "Replace", "source": "0", "target": 1, "word": "jumps"}, "source must be a whole number, got '0'"),
    ({"kind": "TimeShift", "ratio": float("nan")}, "ratio must be a finite number, got nan"),
]


@pytest.mark.parametrize(("data", "message"), EDIT_FIELDS, ids=[m for _, m in EDIT_FIELDS])
def test_edit_files_are_checked_field_by_field(tmp_path, capsys, data, message):
    import json
    import re

    from motionclr_lens.edits import edit_from_dict

    with pytest.raises(ValueError, match=message):
        edit_from_dict(data)
    edits = tmp_path / "edits.json"
    edits.write_text(json.dumps([data]))
    argv = ["edit", "--prompt", "a person jumps", "--edits", str(edits), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_broken_embedded_folder_is_refused_by_file(tmp_path):
    import json
    import shutil

    from motionclr_lens.embedded import embedded_folder

    cases = [
        ("mean.npy", b"", r"cannot read .*mean\.npy"),
        ("std.npy", None, r"std\.npy has 263 features with std <= 0"),
        ("vocabulary.json", json.dumps([-1]).encode(), r"vocabulary\.json must list \d+ distinct token ids"),
        ("vocabulary.json", b'{"a": 1}', "distinct token ids in"),
    ]
    for i, (name, content, message) in enumerate(cases):
        folder = tmp_path / f"m{i}"
        shutil.copytree(embedded_folder(), folder)
        if content is None:
            np.save(folder / name, np.zeros(263, np.float32))
        else:
            (folder / name).write_bytes(content)
        with pytest.raises(ValueError, match=message):
            load_embedded(folder)


def test_edit_files_that_cannot_be_read_are_named(tmp_path, capsys):
    broken = tmp_path / "edits.yaml"
    broken.write_text("- kind: Reweight\n  alpha: [0.3\n")
    folder = tmp_path / "a_folder.json"
    folder.mkdir()
    for path, message in [(broken, "not valid YAML"), (folder, "no such file")]:
        argv = ["edit", "--prompt", "a person jumps", "--edits", str(path), "--out", str(tmp_path / "o"), "--quiet"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(path) in err and message in err
