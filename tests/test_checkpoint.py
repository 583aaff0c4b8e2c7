"""The release layout, the openai-CLIP conversion and `load_release`'s checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from conftest import PARITY, REFERENCE, need

from motionclr_lens import MotionCLR, MotionCLRConfig, load_release
from motionclr_lens.checkpoint import (
    IGNORED_RELEASE_KEYS,
    IGNORED_RELEASE_PREFIXES,
    ReleaseCheckpointError,
    clip_from_openai,
    clip_to_openai,
    config_from_state_dict,
    from_release_state_dict,
    parse_opt,
    read_release,
    to_release_state_dict,
)


def release_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {}
    for line in need(REFERENCE / "release_state_dict.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, rest = line.split(" ", 1)
        dims = rest.rsplit(" ", 1)[0].strip("()")
        shapes[name] = tuple(int(d) for d in dims.split(",") if d.strip())
    return shapes


def ignored(key: str) -> bool:
    return key.startswith(IGNORED_RELEASE_PREFIXES) or key in IGNORED_RELEASE_KEYS


@pytest.fixture(scope="module")
def meta_release_model() -> MotionCLR:
    with torch.device("meta"):
        return MotionCLR(MotionCLRConfig.release())


def test_release_keys_and_shapes_on_meta_device(meta_release_model):
    expected = release_shapes()
    assert len(expected) == 963
    ours = {k: tuple(v.shape) for k, v in to_release_state_dict(meta_release_model.state_dict()).items()}
    assert set(ours) == {k for k in expected if not ignored(k)}
    assert {k: expected[k] for k in ours} == ours
    outside_clip = sum(v.numel() for k, v in meta_release_model.state_dict().items() if not k.startswith("clip_model."))
    assert outside_clip == 509_408_775  # the release's count of tensor elements outside clip_model


def test_config_read_from_release_shapes(meta_release_model):
    release = {k: torch.empty(s, device="meta") for k, s in release_shapes().items()}
    config = config_from_state_dict(release, {"base_dim": 512, "dim_mults": [2, 2, 2, 2], "text_latent_dim": 256})
    assert config == MotionCLRConfig.release()
    with pytest.raises(ReleaseCheckpointError, match=r"base_dim 256 x dim_mults \[2, 2, 2, 2\]"):
        config_from_state_dict(release, {"base_dim": 256, "dim_mults": [2, 2, 2, 2]})


def test_clip_conversion_round_trip():
    archive = torch.load(need(PARITY / "checkpoint/model/latest.tar"), map_location="cpu", weights_only=True)
    openai = {k[len("clip_model.") :]: v for k, v in archive["model_ema"].items() if k.startswith("clip_model.")}
    hf = clip_from_openai(openai)
    back = clip_to_openai(hf)
    text_side = {k: v for k, v in openai.items() if not ignored("clip_model." + k)}
    assert set(back) == set(text_side)
    for k, v in text_side.items():
        assert torch.equal(back[k], v), k


def test_release_state_dict_round_trip(parity_pipeline):
    ours = parity_pipeline.model.state_dict()
    again = from_release_state_dict(to_release_state_dict(ours))
    assert set(again) == set(ours)
    assert all(torch.equal(again[k], ours[k]) for k in ours)


def test_ema_by_default_raw_on_request():
    folder = need(PARITY / "checkpoint")
    archive = torch.load(folder / "model/latest.tar", map_location="cpu", weights_only=True)
    ema, raw = load_release(folder), load_release(folder, weights="raw")
    assert ema.info["weights"] == "ema" and raw.info["weights"] == "raw"
    assert ema.info["total_iterations"] == 123456
    key = "unet.downs.0.0.clr_attn.self_attention.query.weight"
    assert torch.equal(ema.model.state_dict()[key], archive["model_ema"][key])
    assert torch.equal(raw.model.state_dict()[key], archive["encoder"][key])
    assert not torch.equal(archive["model_ema"][key], archive["encoder"][key])


def test_parse_opt():
    options = parse_opt(need(PARITY / "checkpoint/opt.txt").read_text())
    assert options["base_dim"] == 32 and options["dim_mults"] == [1, 1, 2, 2]
    assert options["prediction_type"] == "sample" and options["self_attention"] is True


@pytest.fixture
def release_copy(tmp_path) -> Path:
    folder = tmp_path / "release"
    shutil.copytree(need(PARITY / "checkpoint"), folder)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def test_missing_file_is_named(release_copy):
    (release_copy / "meta" / "std.npy").unlink()
    with pytest.raises(ReleaseCheckpointError, match=r"lacks \['meta/std.npy'\]"):
        read_release(release_copy)


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(ReleaseCheckpointError, match="does not exist"):
        read_release(tmp_path / "nowhere")


def test_corrupt_archive(release_copy):
    tar = release_copy / "model" / "latest.tar"
    tar.write_bytes(tar.read_bytes()[:1000])
    with pytest.raises(ReleaseCheckpointError, match="cannot read"):
        read_release(release_copy)


def test_missing_and_unexpected_keys_are_named(release_copy):
    tar = release_copy / "model" / "latest.tar"
    archive = torch.load(tar, map_location="cpu", weights_only=True)
    del archive["model_ema"]["unet.mid_block1.ffn.linear1.bias"]
    archive["model_ema"]["unet.extra.weight"] = torch.zeros(1)
    torch.save(archive, tar)
    with pytest.raises(ReleaseCheckpointError, match=r"missing 1 keys: unet.mid_block1.ffn.linear1.bias"):
        load_release(release_copy)


def test_shape_mismatch_is_named(release_copy):
    tar = release_copy / "model" / "latest.tar"
    archive = torch.load(tar, map_location="cpu", weights_only=True)
    archive["model_ema"]["unet.mid_block1.ffn.linear1.bias"] = torch.zeros(7)
    torch.save(archive, tar)
    with pytest.raises(ReleaseCheckpointError, match=r"unet.mid_block1.ffn.linear1.bias: checkpoint \(7,\)"):
        load_release(release_copy)


def test_averaged_model_wrapper_keys(release_copy):
    """EMA weights saved through AveragedModel carry `module.` and `n_averaged`; both load."""
    tar = release_copy / "model" / "latest.tar"
    archive = torch.load(tar, map_location="cpu", weights_only=True)
    plain = archive["model_ema"]
    archive["model_ema"] = {"n_averaged": torch.tensor(5), **{f"module.{k}": v for k, v in plain.items()}}
    torch.save(archive, tar)
    pipe = load_release(release_copy)
    key = "unet.final_conv.weight"
    assert torch.equal(pipe.model.state_dict()[key], plain[key])


def test_bad_weights_choice():
    with pytest.raises(ValueError, match="valid: 'ema', 'raw'"):
        read_release(PARITY / "checkpoint", weights="best")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "model" / "latest.tar").write_bytes(b""), r"latest\.tar: the file is empty"),
        (lambda f: (f / "meta" / "mean.npy").write_bytes(b""), r"cannot read .*mean\.npy"),
        (lambda f: _opt(f, "text_num_heads: 0"), r"MotionCLRConfig\.text_heads must be a positive int, got 0"),
        (lambda f: _opt(f, "text_num_heads: many"), r"opt\.txt: text_num_heads must be an int, got 'many'"),
        (lambda f: _opt(f, "dropout: high"), r"opt\.txt: dropout must be a number, got 'high'"),
        (lambda f: _opt(f, "base_dim: x32"), r"base_dim 'x32' and dim_mults .* must be numbers"),
        (lambda f: _entry(f, [1, 2]), r"'model_ema' entry holds a list, not a state dict"),
    ],
)
def test_damaged_releases_are_named(release_copy, damage, message):
    """A payload-free damage of each file: one error naming the file or the option and the value."""
    damage(release_copy)
    with pytest.raises(ReleaseCheckpointError, match=message):
        read_release(release_copy)


def _opt(folder: Path, line: str) -> None:
    key = line.split(":")[0]
    text = (folder / "opt.txt").read_text().splitlines()
    kept = [t for t in text if not t.startswith(f"{key}:")]
    (folder / "opt.txt").write_text("\n".join([*kept, line]) + "\n")


def _entry(folder: Path, value: object) -> None:
    tar = folder / "model" / "latest.tar"
    archive = torch.load(tar, map_location="cpu", weights_only=True)
    archive["model_ema"] = value
    torch.save(archive, tar)


class _Payload:
    def __reduce__(self):
        return (print, ("a payload ran",))


def test_a_release_that_carries_code_is_refused_without_running_it(release_copy, capsys):
    tar = release_copy / "model" / "latest.tar"
    archive = torch.load(tar, map_location="cpu", weights_only=True)
    archive["payload"] = _Payload()
    torch.save(archive, tar)
    with pytest.raises(ReleaseCheckpointError, match="cannot read"):
        read_release(release_copy)
    assert "a payload ran" not in capsys.readouterr().out
