"""Sweeps: prompts x edits x seeds streamed to a zarr store, resumed after an interruption, and shared out
over two processes (torch.distributed on gloo) with the same result as one."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from conftest import TINY

from motionclr_lens.capture import CaptureSpec, capture
from motionclr_lens.cli import main
from motionclr_lens.edits import Replace, Reweight, TimeShift
from motionclr_lens.hooks import Hook, use_hooks
from motionclr_lens.model import MotionCLR
from motionclr_lens.pipeline import MotionCLRPipeline
from motionclr_lens.sweep import Sweep, open_sweep, run_sweep

PROMPTS = ["a man jumps.", "a man waves his hands."]
EDITS = [[], [Reweight(0.3, word="man")]]
SEEDS = [0, 7]
SPEC = CaptureSpec(kinds=("self", "cross"), layers=(0, 8, 17), branches=("cond", "uncond"))
SETTINGS = {"lengths": [16, 24], "steps": 3, "scheduler": "dpmsolver", "guidance_scale": 2.5}


def tiny_pipeline(state: dict | None = None) -> MotionCLRPipeline:
    torch.manual_seed(0)
    model = MotionCLR(TINY)
    with torch.no_grad():  # the output layers start at zero: give them weights, so that motions differ
        for p in model.parameters():
            if not p.any():
                p.normal_(0.0, 0.2)
    if state is not None:
        model.load_state_dict(state)
    rng = np.random.default_rng(0)
    return MotionCLRPipeline(model, rng.normal(size=263) * 0.1, 1 + rng.random(263))


def store_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of every job of a store, by its path in the store."""
    sweep = open_sweep(path)
    out = {}
    for job in sweep.jobs:
        for kind in sweep.kinds():
            for layer in sweep.layers(job, kind):
                out[f"{job.id}/{kind}/{layer}"] = np.asarray(sweep.maps(job, kind, layer)[...])
        out[f"{job.id}/features"] = sweep.features(job)
        out[f"{job.id}/joints"] = sweep.joints(job)
    return out


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pipe() -> MotionCLRPipeline:
    return tiny_pipeline()


@pytest.fixture(scope="module")
def single(pipe, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "sweep.zarr"
    done = run_sweep(pipe, PROMPTS, EDITS, SEEDS, out=out, capture=SPEC, **SETTINGS)
    assert done.computed == tuple(range(8)) and done.skipped == () and (done.rank, done.world_size) == (0, 1)
    return out


def test_jobs_equal_direct_generation(pipe, single):
    sweep = open_sweep(single)
    assert len(sweep.jobs) == 8 and [j.id for j in sweep.done()] == list(range(8)) and not sweep.missing()
    assert sweep.prompts == tuple(PROMPTS) and sweep.seeds == tuple(SEEDS)
    assert sweep.edits == ((), (Reweight(0.3, word="man"),))
    assert sweep.job(1, 1, 7).id == 7 and sweep.job(0, 1, 0).id == 2
    for job in (sweep.job(1, 1, 7), sweep.job(0, 0, 0)):
        with capture(SPEC) as cache:
            result = pipe.generate(
                [PROMPTS[job.prompt]],
                lengths=[SETTINGS["lengths"][job.prompt]],
                steps=3,
                generator=torch.Generator().manual_seed(job.seed),
                edits=EDITS[job.edit],
            )
        np.testing.assert_array_equal(sweep.features(job), result.features[0])
        np.testing.assert_array_equal(sweep.joints(job), result.joints[0])
        assert sweep.layers(job, "cross") == sweep.layers(job, "self") == [0, 8, 17]
        for kind in ("self", "cross"):
            for layer in (0, 8, 17):
                stored = sweep.maps(job, kind, layer)
                assert stored.chunks[0] == 1 and stored.shape[0] == 3  # one chunk per step
                assert stored.attrs["steps"] == [0, 1, 2]
                np.testing.assert_array_equal(np.asarray(stored[...]), cache.stack_steps(kind, layer).numpy())
        loaded = sweep.cache(job)
        assert set(loaded.keys()) == set(cache.keys()) and loaded.rows == cache.rows
        assert all(torch.equal(loaded[key], cache[key]) for key in cache)
    # the edit did something, and the seed too
    a, b, c = (sweep.features(sweep.job(0, e, s)) for e, s in ((0, 0), (1, 0), (0, 7)))
    assert np.abs(a - b).max() > 0 and np.abs(a - c).max() > 0


def test_groups_of_prompts_run_the_edits_that_tie_rows(pipe, tmp_path, monkeypatch):
    """A group samples its prompts together, so Replace and TimeShift (source row -> target row) run in a
    sweep; each job equals generating the group directly, with a row per prompt in its arrays."""
    group = ["a man jumps.", "a man waves his hands."]
    replace, shift = Replace(source=0, target=1, word="waves", steps=range(2)), TimeShift(0, 1, 0.5, steps=range(2))
    edits = [[], [replace], [shift]]
    spec = CaptureSpec(kinds=("self",), layers=(8,), branches=("cond",))
    out = tmp_path / "groups.zarr"
    run_sweep(pipe, [group, "a man kicks."], [edits[0]], [4], out=tmp_path / "mixed.zarr", lengths=16, steps=2)
    mixed = open_sweep(tmp_path / "mixed.zarr")
    assert mixed.prompts == (tuple(group), "a man kicks.")
    assert mixed.features(0).shape == (2, 16, 263) and mixed.joints(0).shape == (2, 16, 22, 3)
    assert mixed.features(1).shape == (16, 263)  # a lone prompt keeps its own layout
    run_sweep(pipe, [group], edits, [0], out=out, capture=spec, lengths=24, steps=3)
    sweep = open_sweep(out)
    assert sweep.prompts == (tuple(group),) and len(sweep.done()) == 3
    features = []
    for e in range(3):
        job = sweep.job(0, e, 0)
        with capture(spec) as cache:
            result = pipe.generate(
                group, lengths=[24, 24], steps=3, generator=torch.Generator().manual_seed(0), edits=edits[e]
            )
        np.testing.assert_array_equal(sweep.features(job), np.stack(result.features))
        np.testing.assert_array_equal(sweep.joints(job), np.stack(result.joints))
        stored = sweep.maps(job, "self", 8)
        assert stored.attrs["rows"] == [[0, "cond"], [1, "cond"]]
        np.testing.assert_array_equal(np.asarray(stored[...]), cache.stack_steps("self", 8).numpy())
        features.append(sweep.features(job))
    # the edits took effect on the target row (each job equals the direct run with its own edits, above)
    for e in (1, 2):
        assert np.abs(features[e][1] - features[0][1]).max() > 1e-3
    # a two-row edit on a lone prompt is refused before anything is written, naming the rows there are
    with pytest.raises(ValueError, match=r"does not apply to prompt 0 .*target 1 is out of range for 1 prompts"):
        run_sweep(pipe, ["a man jumps."], [edits[1]], out=tmp_path / "lone.zarr", lengths=16, steps=2)
    assert not (tmp_path / "lone.zarr").exists()
    assert Sweep(([*group],), ((),), (0,), (16,)).prompts == (tuple(group),)  # a list is a group too
    for bad in ([], ["a man jumps.", " "], [3], None):
        with pytest.raises(ValueError, match="prompts must be non-empty strings or non-empty groups"):
            run_sweep(pipe, [bad], out=tmp_path / "bad.zarr", lengths=16, steps=1)
    # a group from a spec file (JSON lists)
    spec_file = tmp_path / "spec.json"
    shifted = {"kind": "TimeShift", "ratio": 0.25}
    spec_file.write_text(json.dumps({"prompts": [group], "edits": [[shifted]], "lengths": 16, "steps": 4}))
    monkeypatch.setattr("motionclr_lens.sweep.load_model", lambda model, weights: pipe)
    assert main(["sweep", str(spec_file), "--out", str(tmp_path / "cli.zarr")]) == 0
    assert open_sweep(tmp_path / "cli.zarr").features(0).shape == (2, 16, 263)


def test_interrupted_sweep_resumes(pipe, single, tmp_path):
    out = tmp_path / "sweep.zarr"
    calls = []

    def interrupt_third_job(weights, ctx):
        if len(calls) == 3 and ctx.step == 1:
            raise KeyboardInterrupt  # killed in the middle of the third job, some of its maps written

    # on a captured layer only: elsewhere a hook would swap the fused attention kernel for the explicit one
    stopper = Hook(interrupt_third_job, kinds=("cross",), layers=(0,), on_run=calls.append)
    with use_hooks(stopper), pytest.raises(KeyboardInterrupt):
        run_sweep(pipe, PROMPTS, EDITS, SEEDS, out=out, capture=SPEC, **SETTINGS)
    sweep = open_sweep(out)
    assert [j.id for j in sweep.done()] == [0, 1] and (out / "jobs" / "2" / "cross").is_dir()
    with pytest.raises(KeyError, match=r"job 2 .* is not done"):
        sweep.maps(2, "cross", 0)

    again = run_sweep(pipe, PROMPTS, EDITS, SEEDS, out=out, capture=SPEC, **SETTINGS)
    assert again.computed == tuple(range(2, 8)) and again.skipped == (0, 1)
    # a job that lost its done marker is redone; a finished sweep reruns nothing
    shutil.rmtree(out / "jobs" / "5")
    assert run_sweep(pipe, PROMPTS, EDITS, SEEDS, out=out, capture=SPEC, **SETTINGS).computed == (5,)
    assert run_sweep(pipe, PROMPTS, EDITS, SEEDS, out=out, capture=SPEC, **SETTINGS).computed == ()
    expected, got = store_arrays(single), store_arrays(out)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_a_store_stopped_before_its_first_job_resumes_and_a_linked_store_starts_over(pipe, single, tmp_path):
    out = tmp_path / "sweep.zarr"
    run_sweep(pipe, PROMPTS, EDITS, SEEDS[:1], out=out, capture=SPEC, **SETTINGS)
    shutil.rmtree(out / "jobs")  # as if killed between the store's first two writes
    done = run_sweep(pipe, PROMPTS, EDITS, SEEDS[:1], out=out, capture=SPEC, **SETTINGS)
    assert len(done.computed) == len(PROMPTS) * len(EDITS)
    real = tmp_path / "real.zarr"
    shutil.move(out, real)
    out.symlink_to(real, target_is_directory=True)
    fresh = run_sweep(pipe, PROMPTS, EDITS, SEEDS[:1], out=out, capture=SPEC, resume=False, **SETTINGS)
    assert fresh.computed == done.computed and out.is_symlink() and (real / "jobs").is_dir()


def _sweep_worker(rank: int, world_size: int, init_file: str, state_file: str, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        pipe = tiny_pipeline(torch.load(state_file, weights_only=True))
        done = run_sweep(pipe, PROMPTS, EDITS, SEEDS, out=out, capture=SPEC, **SETTINGS)
        assert done.computed == tuple(range(rank, 8, world_size)), done
    finally:
        dist.destroy_process_group()


def test_two_processes_write_what_one_does(pipe, single, tmp_path):
    import torch.multiprocessing as mp

    state = tmp_path / "state.pt"
    torch.save(pipe.model.state_dict(), state)
    out = tmp_path / "sweep.zarr"
    workers = mp.spawn(_sweep_worker, args=(2, str(tmp_path / "init"), str(state), str(out)), nprocs=2, join=False)
    deadline = time.monotonic() + 180
    while not workers.join(timeout=2):  # raises if a worker failed
        if time.monotonic() > deadline:
            for process in workers.processes:
                process.terminate()
            pytest.fail("the two-process sweep did not finish in 180 s")
    sweep = open_sweep(out)
    assert len(sweep.done()) == 8
    assert [zarr.open_group(str(out / "jobs" / str(i)), mode="r").attrs["rank"] for i in range(8)] == [0, 1] * 4
    expected, got = store_arrays(single), store_arrays(out)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_command_runs_a_spec_file(pipe, tmp_path, monkeypatch, capsys):
    spec = {
        "prompts": ["a man jumps."],
        "edits": [[], [{"kind": "Reweight", "alpha": -0.2, "word": "jumps"}]],
        "seeds": [3],
        "lengths": 16,
        "steps": 2,
        "capture": {"kinds": ["cross"], "layers": [17], "head_mean": True, "dtype": "float16"},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    monkeypatch.setattr("motionclr_lens.sweep.load_model", lambda model, weights: pipe)
    assert main(["sweep", str(tmp_path / "spec.json"), "--out", str(tmp_path / "s.zarr")]) == 0
    sweep = open_sweep(tmp_path / "s.zarr")
    assert len(sweep.done()) == 2 and sweep.edits[1] == (Reweight(-0.2, word="jumps"),)
    maps = sweep.maps(1, "cross", 17)
    assert maps.dtype == np.float16 and maps.shape == (2, 1, 1, 16, 77)
    assert main(["sweep", str(tmp_path / "spec.json"), "--out", str(tmp_path / "s.zarr"), "--fresh"]) == 0
    (tmp_path / "bad.json").write_text(json.dumps({"prompts": ["a man jumps."], "seed": [1]}))
    assert main(["sweep", str(tmp_path / "bad.json"), "--out", str(tmp_path / "t.zarr")]) == 2
    assert "error: " in capsys.readouterr().err
    monkeypatch.setenv("RANK", "1")  # another rank of a torchrun job meets the same error: rank 0 alone says it
    assert main(["sweep", str(tmp_path / "bad.json"), "--out", str(tmp_path / "t.zarr")]) == 2
    assert capsys.readouterr().err == ""


def test_bad_input(pipe, single, tmp_path):
    out = tmp_path / "s.zarr"
    with pytest.raises(ValueError, match=r"unknown attention kinds \['selfish'\]; valid"):
        run_sweep(pipe, PROMPTS, out=out, capture={"kinds": ["selfish"]}, steps=2, lengths=16)
    with pytest.raises(ValueError, match="no prompts given"):
        run_sweep(pipe, [], out=out)
    with pytest.raises(ValueError, match="a sweep needs at least one edit list"):
        run_sweep(pipe, PROMPTS, [], out=out)
    with pytest.raises(TypeError, match="edits is a list of edit lists"):
        run_sweep(pipe, PROMPTS, [Reweight(0.3, word="man")], out=out)  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"seeds \[1\] are given more than once"):
        run_sweep(pipe, PROMPTS, seeds=[1, 1], out=out)
    with pytest.raises(ValueError, match=r"edits\[0\] .* does not apply to prompt 0 .*'waves' is not in prompt"):
        run_sweep(pipe, PROMPTS, [[Reweight(0.3, word="waves")]], out=out, lengths=16, steps=2)
    with pytest.raises(ValueError, match=r"capture: layers \[18\] do not exist \(valid: 0..17\)"):
        run_sweep(pipe, PROMPTS, out=out, capture={"layers": [18]}, lengths=16, steps=2)
    with pytest.raises(ValueError, match=r"capture: unknown fields \['kind'\]"):
        run_sweep(pipe, PROMPTS, out=out, capture={"kind": ["cross"]}, lengths=16, steps=2)
    assert not out.exists()  # nothing written before the input is checked
    # the store of another grid: refused, naming what differs
    with pytest.raises(ValueError, match=r"holds a different sweep \(it differs in \['grid.seeds'\]\)"):
        run_sweep(pipe, PROMPTS, EDITS, [0, 8], out=single, capture=SPEC, **SETTINGS)
    with pytest.raises(ValueError, match=r"differs in \['settings.steps'\]"):
        run_sweep(pipe, PROMPTS, EDITS, SEEDS, out=single, capture=SPEC, **{**SETTINGS, "steps": 2})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not a sweep store"):
        run_sweep(pipe, PROMPTS, out=tmp_path / "other", lengths=16, steps=1, resume=False)
    assert (tmp_path / "other" / "notes.txt").is_file()
    with pytest.raises(ValueError, match=r"need 0 <= rank < world_size, got rank=2, world_size=2"):
        run_sweep(pipe, PROMPTS, out=out, lengths=16, steps=1, rank=2, world_size=2)
    sweep = open_sweep(single)
    with pytest.raises(ValueError, match=r"kind 'selfish' was not captured; captured kinds: \['self', 'cross'\]"):
        sweep.maps(0, "selfish", 0)
    with pytest.raises(KeyError, match=r"layer 3 of kind 'cross' was not captured; captured layers: \[0, 8, 17\]"):
        sweep.maps(0, "cross", 3)
    with pytest.raises(KeyError, match=r"seed 5 is not in the sweep"):
        sweep.job(0, 0, 5)
    with pytest.raises(FileNotFoundError, match="no sweep store"):
        open_sweep(tmp_path / "nowhere")


def test_jobs_are_shared_by_id_whatever_the_world():
    grid = Sweep(("a", "b", "c"), ((), ()), (0, 1), (10, 10, 10))
    ids = [j.id for j in grid.jobs]
    assert ids == list(range(12))
    for world in (1, 2, 3, 5):
        shares = [grid.assigned(r, world) for r in range(world)]
        assert sorted(j.id for share in shares for j in share) == ids
