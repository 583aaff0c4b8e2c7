"""Training smoke test: a few steps of a tiny MotionCLR on world motions, checkpoints, and exact resume."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch
from conftest import TINY

from motionclr_lens.data import feature_statistics, weight_global_features
from motionclr_lens.embedded import world_training_set
from motionclr_lens.model import MotionCLR
from motionclr_lens.sampling import alphas_cumprod
from motionclr_lens.train import TrainConfig, Trainer, load_checkpoint


@pytest.fixture(scope="module")
def data():
    motions = world_training_set(24, workers=1)
    return motions, *feature_statistics([m.features for m in motions])


def trainer(data, folder, steps: int = 6, **settings) -> Trainer:
    motions, mean, std = data
    torch.manual_seed(0)
    settings = {"warmup": 2, **settings}
    config = TrainConfig(steps=steps, batch_size=4, lr=1e-3, checkpoint_every=3, threads=1, **settings)
    return Trainer(MotionCLR(TINY), motions, mean, std, config, folder)


def test_a_few_steps_checkpoint_and_resume_exactly(data, tmp_path):
    straight = trainer(data, tmp_path / "straight")
    straight.run(progress=False)
    assert straight.step == 6 and (tmp_path / "straight" / "checkpoint.pt").is_file()
    assert torch.equal(straight.alphas_cumprod, alphas_cumprod())  # noised as the samplers denoise
    assert all(torch.isfinite(p).all() for p in straight.model.parameters())

    interrupted = trainer(data, tmp_path / "resumed")
    interrupted.run(progress=False, until=3)
    assert interrupted.step == 3
    resumed = trainer(data, tmp_path / "resumed")  # a fresh process would build the same, then resume
    resumed.run(progress=False)
    assert resumed.step == 6
    for (name, a), b in zip(straight.ema.state_dict().items(), resumed.ema.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_root_and_contacts_weigh_as_in_the_original(data, tmp_path):
    """The original trains against the dataset std with the root (rotation velocity, linear velocity,
    height) and foot-contact groups divided by feat_bias = 5, and saves that std with the model."""
    motions, mean, std = data
    weighted = weight_global_features(std, 5.0)
    assert np.allclose(weighted[:4], std[:4] / 5) and np.allclose(weighted[259:], std[259:] / 5)
    assert np.array_equal(weighted[4:259], std[4:259])
    t = trainer(data, tmp_path)
    assert t.config.feat_bias == 5.0 and np.array_equal(t.std, weighted)
    # normalised, the root's rotation velocity spreads 5 times as far as with the dataset's own std
    rot = np.concatenate([m[:, 0].numpy() for m in t.motions])
    plain = np.concatenate([(m.features[:, 0] - mean[0]) / std[0] for m in motions])
    assert np.isclose(rot.std(), 5 * plain.std(), rtol=1e-4)
    t.run(progress=False, until=3)
    saved = load_checkpoint(t.checkpoint_path)
    assert np.array_equal(saved["std"].numpy(), weighted) and saved["train_config"]["feat_bias"] == 5.0


def test_feat_bias_is_checked(data, tmp_path):
    with pytest.raises(ValueError, match="feat_bias must be positive, got 0"):
        weight_global_features(data[2], 0.0)
    with pytest.raises(ValueError, match=r"std must have shape \(263,\) for 22 joints, got \(262,\)"):
        weight_global_features(data[2][:262], 5.0)
    trainer(data, tmp_path).run(progress=False, until=3)
    other = trainer(data, tmp_path, feat_bias=1.0)  # resumed, it would mix two normalisations
    with pytest.raises(ValueError, match=r"trained with feat_bias 5\.0, not 1\.0"):
        other.run(progress=False)


def test_the_loss_averages_each_motion_first_as_the_original(data, tmp_path):
    """loss_mean "motion" (the default, the original's): the MSE over each motion's valid frames, then the mean
    over the batch; "frames" pools every valid frame of the batch. Both read the same prediction."""
    t = trainer(data, tmp_path)
    assert t.config.loss_mean == "motion"
    x0, lengths, ids, n_cond = t.batch()
    while len(set(lengths.tolist())) == 1:  # rows of different lengths tell the two means apart
        x0, lengths, ids, n_cond = t.batch()
    predictions = []
    t.model.register_forward_hook(lambda module, args, out: predictions.append(out.detach()))
    state = t.generator.get_state()
    losses = {}
    for mean in ("motion", "frames"):
        t.generator.set_state(state)
        t.config.loss_mean = mean
        losses[mean] = float(t.loss(x0, lengths, ids, n_cond).detach())
    torch.testing.assert_close(predictions[0], predictions[1], rtol=0, atol=0)
    squared = ((predictions[0] - x0) ** 2).mean(-1).double()  # (B, T)
    per_motion = [squared[row, :n].mean() for row, n in enumerate(lengths.tolist())]
    assert np.isclose(losses["motion"], float(torch.stack(per_motion).mean()), rtol=1e-5)
    pooled = sum(float(squared[row, :n].sum()) for row, n in enumerate(lengths.tolist())) / int(lengths.sum())
    assert np.isclose(losses["frames"], pooled, rtol=1e-5)
    assert not np.isclose(losses["motion"], losses["frames"], rtol=1e-3)


def test_loss_mean_is_checked(data, tmp_path):
    with pytest.raises(ValueError, match=r"loss_mean must be one of \['motion', 'frames'\], got 'rows'"):
        trainer(data, tmp_path, loss_mean="rows")
    trainer(data, tmp_path).run(progress=False, until=3)
    other = trainer(data, tmp_path, loss_mean="frames")
    with pytest.raises(ValueError, match=r"trained with loss_mean 'motion', not 'frames'"):
        other.run(progress=False)


def test_until_must_be_inside_the_schedule(data, tmp_path):
    with pytest.raises(ValueError, match=r"until must be in \[1, 6\]"):
        trainer(data, tmp_path).run(progress=False, until=7)


def test_the_world_recipe_refines_and_resumes_across_its_stages(tmp_path):
    """The embedded recipe's two stages (a schedule, then a refinement from its weights on a new draw): a run
    stopped inside the refinement and resumed ends bit for bit where an uninterrupted run does, starts from
    the first stage's weights, and `export` takes the refined weights with the steps of both stages."""
    import json

    from motionclr_lens.cli import main
    from motionclr_lens.embedded import EMBEDDED_GUIDANCE_SCALE, RECIPE, export, train_on_world

    recipe = dataclasses.replace(RECIPE, steps=2, samples=24, refine_steps=2, refine_draw=24, batch_size=4)
    straight = train_on_world(tmp_path / "straight", recipe, progress=False)
    assert straight.step == 2 and straight.folder == tmp_path / "straight" / "refine"
    first = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    assert first["step"] == 2
    assert first["train_config"]["feat_bias"] == straight.config.feat_bias == RECIPE.feat_bias == 1.0
    assert first["train_config"]["loss_mean"] == straight.config.loss_mean == RECIPE.loss_mean == "frames"
    moved = [not torch.equal(v, straight.model.state_dict()[k]) for k, v in first["model"].items()]
    assert any(moved)  # the refinement trained on

    stopped = train_on_world(tmp_path / "resumed", recipe, progress=False, until=3)
    assert stopped.step == 1 and stopped.folder.name == "refine"
    resumed = train_on_world(tmp_path / "resumed", recipe, progress=False)
    assert resumed.step == 2
    for (name, a), b in zip(straight.ema.state_dict().items(), resumed.ema.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)

    meta = json.loads((export(tmp_path / "resumed", tmp_path / "exported") / "config.json").read_text())
    assert meta["guidance_scale"] == EMBEDDED_GUIDANCE_SCALE
    assert main(["export", "--run", str(tmp_path / "resumed"), "--to", str(tmp_path / "g2"), "--guidance", "2"]) == 0
    assert json.loads((tmp_path / "g2" / "config.json").read_text())["guidance_scale"] == 2.0
    assert meta["step"] == 4 and [stage["step"] for stage in meta["stages"]] == [2, 2]
    assert [stage["train"]["lr"] for stage in meta["stages"]] == [recipe.lr, recipe.refine_lr]
    with pytest.raises(ValueError, match=r"until must be in \[1, 4\]"):
        train_on_world(tmp_path / "resumed", recipe, progress=False, until=5)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1, got 0"),
        (["--refine-steps", "-1"], "--refine-steps must be 0"),
        (["--feat-bias", "0"], "--feat-bias must be a finite number > 0, got 0.0"),
        (["--feat-bias", "nan"], "--feat-bias must be a finite number > 0, got nan"),
        (["--loss-mean", "rows"], "argument --loss-mean: invalid choice: 'rows'"),
    ],
)
def test_the_training_command_names_a_bad_option(tmp_path, capsys, option, message):
    from motionclr_lens.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--out", str(tmp_path), *option])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing drawn, nothing written


def test_the_training_command_takes_the_feature_weighting():
    import argparse

    from motionclr_lens.cli import add_recipe_arguments, recipe_from
    from motionclr_lens.embedded import RECIPE

    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    assert recipe_from(parser.parse_args(["--out", "x"])) == RECIPE
    weighted = recipe_from(parser.parse_args(["--out", "x", "--feat-bias", "5"]))
    assert weighted.feat_bias == 5.0 and weighted == dataclasses.replace(RECIPE, feat_bias=5.0)
    original = recipe_from(parser.parse_args(["--out", "x", "--feat-bias", "5", "--loss-mean", "motion"]))
    assert original == dataclasses.replace(RECIPE, feat_bias=5.0, loss_mean="motion")


def test_export_names_a_bad_guidance(tmp_path, capsys):
    from motionclr_lens.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--run", str(tmp_path), "--to", str(tmp_path / "out"), "--guidance", "0.5"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "guidance_scale must be a finite number >= 1" in err and "got 0.5" in err
    assert not (tmp_path / "out").exists()


class _Payload:
    def __reduce__(self):
        return (print, ("a payload ran",))


def test_a_checkpoint_that_carries_code_is_refused_without_running_it(data, tmp_path, capsys):
    """A run folder may come from anyone: resuming or exporting never unpickles arbitrary objects."""
    from motionclr_lens.embedded import export

    t = trainer(data, tmp_path)
    t.run(progress=False, until=3)
    state = torch.load(t.checkpoint_path, weights_only=True)
    state["history"].append(_Payload())
    torch.save(state, t.checkpoint_path)
    (tmp_path / "vocabulary.json").write_text("[0, 1]")
    with pytest.raises(ValueError, match=r"holds objects other than tensors.*could run code"):
        trainer(data, tmp_path).run(progress=False)
    with pytest.raises(ValueError, match="holds objects other than tensors"):
        export(tmp_path, tmp_path / "exported")
    assert "a payload ran" not in capsys.readouterr().out
    torch.save({"step": 3}, t.checkpoint_path)
    with pytest.raises(ValueError, match=r"not a training checkpoint: it lacks \['model', 'ema'"):
        load_checkpoint(t.checkpoint_path)


def test_a_schedule_cut_short_falls_from_where_it_was_to_the_floor(data, tmp_path):
    long = trainer(data, tmp_path / "long", steps=300, warmup=10)
    cut = trainer(data, tmp_path / "cut", steps=200, warmup=10, cosine_steps=300, anneal_from=120)
    assert all(cut.lr_at(s) == long.lr_at(s) for s in range(121))  # the long cosine up to the cut
    falling = [cut.lr_at(s) for s in range(120, 201)]
    assert all(a > b for a, b in itertools.pairwise(falling))  # then strictly down
    assert falling[-1] == pytest.approx(1e-3 * cut.config.min_lr_ratio) and falling[0] > 5 * falling[-1]
    assert cut.lr_at(121) == pytest.approx(long.lr_at(120), rel=1e-3)  # no jump at the cut
    for bad, message in (
        (dict(anneal_from=200), r"anneal_from must be in \[10, 199\]"),
        (dict(anneal_from=5), r"anneal_from must be in \[10, 199\].*got 5"),
        (dict(cosine_steps=100), "cosine_steps must be at least steps"),
    ):
        with pytest.raises(ValueError, match=message):
            TrainConfig(steps=200, warmup=10, **bad)


def test_the_extended_recipe_is_chosen_by_name_and_options_override_it():
    import argparse

    from motionclr_lens.cli import add_recipe_arguments, recipe_from
    from motionclr_lens.embedded import EXTENDED_RECIPE, FIRST_MODEL

    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    assert recipe_from(parser.parse_args(["--out", "x", "--recipe", "extended"])) == EXTENDED_RECIPE
    short = recipe_from(parser.parse_args(["--out", "x", "--recipe", "extended", "--steps", "10"]))
    assert short == dataclasses.replace(EXTENDED_RECIPE, steps=10, cosine_steps=None, anneal_from=None)
    assert short.warm_start == FIRST_MODEL
    given = recipe_from(parser.parse_args(["--out", "x", "--recipe", "extended", "--warm-start", "folder"]))
    assert given == dataclasses.replace(EXTENDED_RECIPE, warm_start="folder")
    with pytest.raises(ValueError, match="--batch-size must be at least 1, got 0"):
        recipe_from(parser.parse_args(["--out", "x", "--batch-size", "0"]))


def test_the_extended_recipe_asks_for_the_first_models_weights_before_drawing_anything(tmp_path, capsys):
    """The package ships the second model, so the second's recipe cannot start from the package's weights: without
    --warm-start the command stops with a usage error that says where the first model's weights come from, and a
    folder that lacks a file is named with what it lacks."""
    from motionclr_lens.cli import main
    from motionclr_lens.embedded import FIRST_MODEL_COMMIT

    with pytest.raises(SystemExit) as stop:
        main(["train", "--out", str(tmp_path / "run"), "--recipe", "extended"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--warm-start FOLDER" in err and FIRST_MODEL_COMMIT in err and "--recipe first" in err
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "config.json").write_text("{}")
    with pytest.raises(SystemExit) as stop:
        main(
            ["train", "--out", str(tmp_path / "run"), "--recipe", "extended", "--warm-start", str(tmp_path / "partial")]
        )
    assert stop.value.code == 2
    assert "it lacks ['model.safetensors', 'mean.npy', 'std.npy', 'vocabulary.json']" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_warm_start_takes_the_shipped_weights_and_keeps_fresh_rows_for_new_tokens():
    from motionclr_lens.config import MotionCLRConfig
    from motionclr_lens.embedded import TOKEN_EMBEDDING, _warm_start, load_embedded, warm_start_folder

    shipped = load_embedded()
    torch.manual_seed(0)
    model = MotionCLR(MotionCLRConfig.embedded())
    fresh = model.state_dict()[TOKEN_EMBEDDING].clone()
    mean, std, vocabulary = _warm_start(model, warm_start_folder("shipped"))
    np.testing.assert_array_equal(mean, shipped.mean)
    np.testing.assert_array_equal(std, shipped.std)
    for name, value in shipped.model.state_dict().items():
        if name != TOKEN_EMBEDDING:
            torch.testing.assert_close(model.state_dict()[name], value, rtol=0, atol=0, msg=name)
    rows = model.state_dict()[TOKEN_EMBEDDING]
    torch.testing.assert_close(rows[vocabulary], shipped.model.state_dict()[TOKEN_EMBEDDING][vocabulary])
    unseen = torch.ones(len(rows), dtype=torch.bool)
    unseen[vocabulary] = False
    torch.testing.assert_close(rows[unseen], fresh[unseen], rtol=0, atol=0)


def test_ctrl_c_stops_after_the_step_saves_it_and_a_rerun_resumes_exactly(data, tmp_path, monkeypatch):
    """A first Ctrl-C lets the step finish, saves it (even between checkpoints) and ends with one message naming
    the step and the file; running again resumes to the same weights as an uninterrupted run; the handler of
    Ctrl-C is the caller's again afterwards."""
    import os
    import signal

    from motionclr_lens.train import TrainingInterrupted

    straight = trainer(data, tmp_path / "straight")
    straight.run(progress=False)
    before = signal.getsignal(signal.SIGINT)
    interrupted = trainer(data, tmp_path / "stopped")
    real_step = Trainer.train_step

    def step_then_ctrl_c(self: Trainer) -> float:
        value = real_step(self)
        if self.step == 4:  # between checkpoints (every 3)
            os.kill(os.getpid(), signal.SIGINT)
        return value

    monkeypatch.setattr(Trainer, "train_step", step_then_ctrl_c)
    with pytest.raises(TrainingInterrupted, match=r"stopped after step 4; saved to .*checkpoint\.pt"):
        interrupted.run(progress=False)
    assert signal.getsignal(signal.SIGINT) is before
    assert load_checkpoint(tmp_path / "stopped" / "checkpoint.pt")["step"] == 4
    monkeypatch.setattr(Trainer, "train_step", real_step)
    resumed = trainer(data, tmp_path / "stopped")
    resumed.run(progress=False)
    assert resumed.step == 6
    for (name, a), b in zip(straight.ema.state_dict().items(), resumed.ema.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
