"""The command line: the README's demo writes its outputs, refuses to overwrite, and inspects a model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from motionclr_lens.cli import main
from motionclr_lens.export import read_bvh
from motionclr_lens.loading import load_model
from motionclr_lens.pipeline import UnknownWordWarning


def test_demo_writes_motion_report_and_record(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet", "--seconds", "3"]) == 0
    names = {p.name for p in out.iterdir()}
    expected = {"00_report.html", "00_features.npy", "00_joints.npy", "00_keyframes.png", "00_motion.bvh"}
    assert expected | {"00_motion.gif", "record.json"} == names
    joints = np.load(out / "00_joints.npy")
    assert joints.shape == (60, 22, 3)
    # a BVH skeleton is rigid: generated joints, whose bones drift slightly, come back within that drift
    error = np.linalg.norm(read_bvh(out / "00_motion.bvh").joints() - joints, axis=-1)
    assert error.mean() < 0.01 and error[:, 0].max() < 1e-5
    record = json.loads((out / "record.json").read_text())
    assert record["lengths"] == [60] and record["model"] == "embedded" and record["seed"] == 0
    page = (out / "00_report.html").read_text()
    assert "a person jumps three times, then walks forward" in page and "Word grounding" in page
    assert "<script src=" not in page and page.count("Plotly.newPlot(") == 3  # plotly.js inline, three figures
    settings = page[page.index("<h2>Settings</h2>") :]
    names = re.findall(r"<tr><td>([a-z_]+)</td>", settings)
    assert len(names) == len(set(names)) and {"prompts", "lengths"}.isdisjoint(names)  # one row per setting
    assert "head means of every step" in settings
    printed = capsys.readouterr().out
    assert "generated 1 motion(s)" in printed and "00_report.html" in printed


def test_demo_never_overwrites_without_force(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(out), "--quiet", "--no-gif"]) == 2  # a usage error, before any work
    assert "exists and is not empty; pass --force" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    # --force replaces what a run writes (an earlier run's second motion included) and nothing else
    (out / "01_features.npy").write_bytes(b"stale")
    assert main(["demo", "--out", str(out), "--quiet", "--no-gif", "--force", "--seconds", "1", "--steps", "2"]) == 0
    assert (out / "keep.txt").read_text() == "mine" and not (out / "01_features.npy").exists()
    assert (out / "00_features.npy").is_file() and (out / "record.json").is_file()


def test_a_failed_run_leaves_no_folder_and_out_must_be_a_folder(tmp_path, capsys):
    out = tmp_path / "never"
    argv = ["edit", "--prompt", "a person jumps", "--reweight", "jumps", "1e38", "--seconds", "1", "--steps", "2"]
    assert main([*argv, "--out", str(out), "--quiet", "--no-gif"]) == 2
    assert "NaN or Inf" in capsys.readouterr().err and not out.exists()
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    for target, message in [(a_file, "is a file, not a folder"), (dangling, "is a symbolic link to nothing")]:
        assert main(["generate", "--prompt", "a person walks", "--out", str(target), "--quiet"]) == 2
        assert message in capsys.readouterr().err


def test_inspect_lists_the_layers(capsys):
    assert main(["inspect"]) == 0
    text = capsys.readouterr().out
    assert "18 self- and cross-attention layers" in text and "layer 17" in text


def test_inspect_says_which_kernel_each_product_runs_and_why(capsys, monkeypatch, tmp_path):
    from motionclr_lens import kernels

    monkeypatch.setenv(kernels.CACHE_ENV, str(tmp_path / "kernels.json"))
    kernels.clear_kernel_choices()
    assert main(["inspect", "--kernels", "--seconds", "2"]) == 0
    text = capsys.readouterr().out
    assert f"kernels on {kernels.machine_key()}" in text and "(40 frames, guided)" in text
    kinds = ("linear:", "conv:", "tconv:", "taps:")
    rows = [line.split() for line in text.splitlines() if line.strip().startswith(kinds)]
    assert rows and len(rows) == len(kernels.kernel_choices())
    assert all(row[1] in kernels.LINEAR_KERNELS + kernels.CONV_KERNELS and row[2] == "measured" for row in rows)
    assert "layers run through these kernels" in text
    weights, cache = kernels.kernel_weight_bytes(load_model().model), kernels.last_level_cache_bytes()
    assert ("(classes marked streamed)" in text) is (weights > cache)


def test_generate_replays_a_record_bit_for_bit(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    edits = tmp_path / "edits.json"
    edits.write_text(json.dumps([{"kind": "Reweight", "alpha": -0.4, "word": "jumps"}]))
    args = ["--prompt", "a person jumps twice", "--seconds", "2", "--steps", "4", "--seed", "7", "--quiet", "--no-gif"]
    assert main(["edit", *args, "--edits", str(edits), "--out", str(first)]) == 0
    record = json.loads((first / "record.json").read_text())
    assert record["edit_values"] == [
        {"kind": "Reweight", "alpha": -0.4, "word": "jumps", "tokens": None, "rows": [0], "steps": None, "layers": None}
    ]
    assert len(record["model_hash"]) == 64 and {"torch", "numpy", "python"} <= set(record["versions"])
    assert (
        main(["generate", "--from-record", str(first / "record.json"), "--out", str(second), "--quiet", "--no-gif"])
        == 0
    )
    a, b = np.load(first / "00_features.npy"), np.load(second / "00_features.npy")
    assert a.shape == (40, 263) and np.array_equal(a, b)
    plain = tmp_path / "plain"
    assert main(["generate", *args, "--out", str(plain)]) == 0
    assert not np.array_equal(np.load(plain / "00_features.npy"), a)  # the recorded edit was replayed


def test_count_and_ground_print_json(tmp_path, capsys):
    assert main(["count", "--prompt", "a person jumps three times", "--seconds", "3"]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert counted["frames"] == [0, 60] and counted["read_from"] == "self-attention keys of layers [16, 17]"
    assert counted["repetitions"] == "none found" or counted["repetitions"] >= 2
    from motionclr_lens.world import make_sample

    drawn = (make_sample(0, "val", i) for i in range(40))
    jumps = next(s for s in drawn if len(s.segments) == 1 and s.segments[0].kind.startswith("jump"))
    features = tmp_path / "jumps.npy"
    np.save(features, jumps.features)
    assert main(["count", "--prompt", jumps.captions[0].text, "--motion", str(features)]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert counted["repetitions"] == jumps.segments[0].count == counted["baseline_no_model"] >= 2
    assert isinstance(counted["paper_appendix_g"], int)
    features = tmp_path / "motion.npy"

    np.save(features, make_sample(0, "test", 1).features)
    assert main(["ground", "--prompt", "a person walks forward", "--motion", str(features)]) == 0
    grounded = json.loads(capsys.readouterr().out)
    assert [w["word"] for w in grounded["words"]] == ["a", "person", "walks", "forward"]
    assert all(0 <= w["peak_frame"] < grounded["frames"] for w in grounded["words"])


def test_bad_input_exits_non_zero_and_says_why(tmp_path, capsys, caplog):
    out = str(tmp_path / "x")
    cases = [
        (["generate", "--prompt", "", "--out", out, "--quiet"], "prompts must be non-empty"),
        (["generate", "--prompt", "a person walks", "--seconds", "12", "--out", out, "--quiet"], "outside [1, 196]"),
        (
            ["generate", "--prompt", "a person walks", "--steps", "0", "--out", out, "--quiet"],
            "steps must be a positive",
        ),
        (["generate", "--out", out, "--quiet"], "give at least one --prompt"),
        (["generate", "--prompt", "a person walks", "--seconds", "0", "--out", out, "--quiet"], "outside [1, 196]"),
        (
            ["generate", "--prompt", "a person flibbers", "--seconds", "1", "--steps", "2", "--out", out, "--quiet"],
            "never saw ['flibbers']",
        ),
        (
            ["count", "--prompt", "a person jumps", "--seconds", "2", "--frames", "10", "90"],
            "outside the motion's frames",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    bad_edits = tmp_path / "bad.json"
    bad_edits.write_text(json.dumps([{"kind": "Blur", "word": "walks"}]))
    assert main(["edit", "--prompt", "a person walks", "--edits", str(bad_edits), "--out", out, "--quiet"]) == 2
    assert "unknown edit kind 'Blur'; valid: ['Erase', 'ExampleBased'" in capsys.readouterr().err
    bad_edits.write_text(json.dumps([{"kind": "Reweight", "alpha": 0.3, "word": "walks", "rows": [3]}]))
    assert main(["edit", "--prompt", "a person walks", "--edits", str(bad_edits), "--out", out, "--quiet"]) == 2
    assert "row 3 is out of range for 1 prompts (valid: 0..0)" in capsys.readouterr().err
    bad_edits.write_text(json.dumps([{"kind": "Erase", "word": "jumps"}]))
    assert main(["edit", "--prompt", "a person walks", "--edits", str(bad_edits), "--out", out, "--quiet"]) == 2
    assert "'jumps'" in capsys.readouterr().err  # an unknown word names the prompt's words
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--prompt", "a person walks", "--scheduler", "euler"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'euler'" in capsys.readouterr().err
    long_prompt = " ".join(["a person walks forward and then jumps"] * 12)
    assert (
        main(
            ["generate", "--prompt", long_prompt, "--seconds", "1", "--steps", "2", "--out", out, "--quiet", "--no-gif"]
        )
        == 0
    )
    assert "over the 77 of CLIP's context: kept" in caplog.text  # logged: on the terminal, stderr
    unknown = ["generate", "--prompt", "a person flibbers", "--seconds", "1", "--steps", "2", "--quiet", "--no-gif"]
    with pytest.warns(UnknownWordWarning, match="flibbers"):
        assert main([*unknown, "--allow-unknown-words", "--out", str(tmp_path / "unknown")]) == 0
    release = tmp_path / "release"
    (release / "model").mkdir(parents=True)
    (release / "opt.txt").write_text("dim_pose: 263\n")
    (release / "model" / "latest.tar").write_bytes(b"not a checkpoint")
    assert main(["inspect", "--model", str(release)]) == 2
    assert "error:" in capsys.readouterr().err


def test_nan_results_and_corrupt_models_are_errors(tmp_path, capsys):
    out = str(tmp_path / "x")
    argv = ["edit", "--prompt", "a person jumps", "--reweight", "jumps", "inf", "--seconds", "1", "--steps", "2"]
    assert main([*argv, "--out", out, "--quiet", "--no-gif"]) == 2
    assert "Reweight: alpha must be a finite number, got inf" in capsys.readouterr().err  # before sampling
    argv[5] = "1e38"  # finite, but enough to overflow the run
    assert main([*argv, "--out", out, "--quiet", "--no-gif"]) == 2
    assert "NaN or Inf" in capsys.readouterr().err
    import shutil

    from motionclr_lens.embedded import embedded_folder, load_embedded

    broken = tmp_path / "embedded"
    shutil.copytree(embedded_folder(), broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot read .*model.safetensors"):
        load_embedded(broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks \['model.safetensors'\]"):
        load_embedded(broken)


def test_invert_and_edit_a_given_motion(tmp_path, capsys):
    from motionclr_lens.analysis import joints_of
    from motionclr_lens.world import make_sample

    sample = make_sample(0, "test", 2)
    motion = tmp_path / "motion.npy"
    np.save(motion, sample.features)
    caption = sample.captions[0].text
    out = tmp_path / "inverted"
    common = ["--steps", "5", "--refine", "3", "--quiet", "--no-gif"]
    assert main(["invert", "--motion", str(motion), "--prompt", caption, "--out", str(out), *common]) == 0
    record = json.loads((out / "record.json").read_text())
    assert record["inverted_from"] == str(motion) and len(record["inversion_residuals"]) == 5
    error = np.linalg.norm(joints_of(np.load(out / "00_features.npy")) - joints_of(sample.features), axis=-1)
    assert error.mean() < 0.05
    edited = tmp_path / "edited"
    word = next(w for w, f in zip(sample.captions[0].words, sample.captions[0].word_frames, strict=True) if f)
    argv = ["edit", "--motion", str(motion), "--prompt", caption, "--reweight", word, "0.6", "--out", str(edited)]
    assert main([*argv, *common]) == 0
    assert not np.allclose(np.load(edited / "00_features.npy"), np.load(out / "00_features.npy"))
    assert main(["generate", "--from-record", str(out / "record.json"), "--out", str(tmp_path / "r")]) == 2
    assert "edit --motion" in capsys.readouterr().err
    np.save(motion, sample.features[:, :50])
    assert main(["invert", "--motion", str(motion), "--prompt", caption, "--out", str(tmp_path / "bad"), *common]) == 2
    assert "expected (frames, 263) features" in capsys.readouterr().err


def test_count_and_ground_read_motion_capture(tmp_path, capsys):
    """A world motion written as another skeleton's BVH (Mixamo names, centimetres, Z up, 30 fps) is read,
    counted and grounded end to end; broken files are refused with status 2 and the file named."""
    from motionclr_lens.io import resample, save_bvh_as
    from motionclr_lens.world import make_sample

    drawn = (make_sample(0, "val", i) for i in range(40))
    jumps = next(s for s in drawn if len(s.segments) == 1 and s.segments[0].kind.startswith("jump"))
    path = save_bvh_as(
        resample(jumps.joints, 20, 30), tmp_path / "jumps.bvh", names="mixamo", fps=30, unit="cm", up="z"
    )
    assert main(["count", "--prompt", jumps.captions[0].text, "--motion", str(path)]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert counted["repetitions"] == jumps.segments[0].count
    assert abs(counted["frames"][1] - (jumps.frames - 1)) <= 1
    assert main(["ground", "--prompt", jumps.captions[0].text, "--motion", str(path)]) == 0
    grounded = json.loads(capsys.readouterr().out)
    assert [w["word"] for w in grounded["words"]] == jumps.captions[0].words
    empty = tmp_path / "empty.bvh"
    empty.write_text("")
    truncated = tmp_path / "truncated.bvh"
    truncated.write_text("\n".join(path.read_text().split("\n")[:-20]))
    unknown = tmp_path / "unknown.bvh"
    unknown.write_text(path.read_text().replace("mixamorig:", "bone_").replace("Hips", "Root").replace("Left", "L_"))
    cases = [
        (empty, "empty.bvh"),
        (truncated, "truncated.bvh"),
        (unknown, "unknown.bvh"),
        (tmp_path / "missing.bvh", "missing.bvh: no such file"),
        (tmp_path / "motion.csv", "unknown kind of file '.csv'"),
    ]
    for bad, message in cases:
        assert main(["count", "--prompt", "a person jumps", "--motion", str(bad)]) == 2, bad
        assert message in capsys.readouterr().err, bad


def test_help_lists_every_subcommand(capsys):
    """One command line: training, export, sweeps and the recogniser's training are subcommands of it."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "generate", "count", "train", "export", "sweep", "train-recogniser", "benchmark"):
        assert command in out, command


def test_the_recogniser_trains_from_the_command_line(tmp_path, capsys):
    import torch

    from motionclr_lens.analysis import ActionRecogniser

    threads = torch.get_num_threads()
    out = tmp_path / "recogniser"
    assert main(["train-recogniser", "--out", str(out), "--samples", "4", "--epochs", "1"]) == 0
    assert f"saved to {out}" in capsys.readouterr().out
    assert len(ActionRecogniser.load(out).classes) == 34
    assert torch.get_num_threads() == threads  # the command's one thread does not outlast it
    assert main(["train-recogniser", "--out", str(tmp_path / "bad"), "--perturb", "1.5"]) == 2
    assert "perturb must be a share in [0, 1], got 1.5" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["train-recogniser", "--out", str(tmp_path / "bad"), "--world", "moon"])
    assert exit_info.value.code == 2 and "invalid choice: 'moon'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_python_m_runs_the_cli_and_the_old_module_commands_name_it(tmp_path):
    """`python -m motionclr_lens` is the command line; the modules that were commands say where it went."""
    import subprocess
    import sys

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=300)

    export = run("motionclr_lens", "export", "--run", str(tmp_path), "--to", str(tmp_path / "out"),
                 "--guidance", "0.5")  # fmt: skip
    assert export.returncode == 2, export.stderr
    assert "guidance_scale must be a finite number >= 1" in export.stderr and "got 0.5" in export.stderr
    assert not (tmp_path / "out").exists()
    for module, command in [
        ("motionclr_lens.embedded", "motionclr-lens train|export"),
        ("motionclr_lens.sweep", "motionclr-lens sweep"),
        ("motionclr_lens.analysis.recognition", "motionclr-lens train-recogniser"),
    ]:
        moved = run(module, "--help")
        assert moved.returncode == 2 and f"python -m {module} is now `{command}`" in moved.stderr, moved.stderr


def test_only_the_cli_parses_arguments():
    """No library module imports argparse or the cli module (`python -m motionclr_lens` is the command line
    itself); importing them does not load the cli."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import motionclr_lens

    def imported(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [f"{node.module or ''}.{alias.name}" for alias in node.names]
            return ["." * node.level + name for name in names]
        return []

    package = Path(motionclr_lens.__file__).parent
    offending = []
    for path in sorted(package.rglob("*.py")):
        if path.name in ("cli.py", "__main__.py") and path.parent == package:  # the command line itself
            continue
        tree = ast.parse(path.read_text())
        blocks = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "__name__ == '__main__'"]
        in_main = {id(sub) for block in blocks for sub in ast.walk(block)}
        for node in ast.walk(tree):
            for name in imported(node):
                if name.split(".")[0] == "argparse":
                    offending.append(f"{path.relative_to(package)} imports argparse")
                if name.rsplit(".", 1)[-1] == "cli" and id(node) not in in_main:
                    offending.append(f"{path.relative_to(package)} imports the cli outside its __main__ block")
    assert not offending, offending
    code = (
        "import sys, motionclr_lens.embedded, motionclr_lens.sweep, motionclr_lens.analysis.recognition; "
        "print('motionclr_lens.cli' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "False"


def test_the_report_capture_keeps_within_its_budget(tmp_path, capsys, caplog):
    """Head means of the steps that fit, evenly spaced with the last; the record says what was kept, and a
    budget that holds not one step is refused before the run."""
    from motionclr_lens.report import report_steps

    out = tmp_path / "o"
    argv = ["generate", "--prompt", "a person jumps", "--seconds", "2", "--steps", "9", "--quiet", "--no-gif"]
    assert main([*argv, "--out", str(out), "--capture-budget", "0.5"]) == 0
    kept = json.loads((out / "record.json").read_text())["capture"]
    assert kept["head_mean"] is True and kept["steps"][-1] == 8 and 1 <= len(kept["steps"]) < 9
    assert kept["bytes"] <= 0.5 * 2**20 and "the report captures" in caplog.text
    assert main([*argv, "--out", str(tmp_path / "p"), "--capture-budget", "0.001"]) == 2
    assert "over --capture-budget 0.001 MiB" in capsys.readouterr().err and not (tmp_path / "p").exists()
    import torch

    from motionclr_lens import capture, load_embedded

    with capture(head_mean=True) as cache:
        load_embedded().generate("a person jumps", lengths=40, steps=9, generator=torch.Generator().manual_seed(0))
    assert report_steps(cache, 40, 3) == list(range(9))  # all fit
    few = report_steps(cache, 40, 3, max_bytes=200_000)
    assert few[-1] == 8 and 1 <= len(few) < 9 and few == sorted(few)
    assert report_steps(cache, 40, 3, max_bytes=1) == [8]


def test_the_command_line_answers_before_heavy_imports():
    """Building the options imports neither torch nor numpy, and the plain names it offers are the library's."""
    import subprocess
    import sys

    code = (
        "import sys; from motionclr_lens.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'numpy', 'diffusers', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    from motionclr_lens import defaults, embedded, io, sampling, train

    assert tuple(sorted(io.PRESETS)) == defaults.MOTION_PRESETS
    assert tuple(sorted(sampling.SCHEDULERS)) == defaults.SCHEDULER_NAMES
    assert tuple(embedded.RECIPES) == defaults.RECIPE_NAMES and defaults.LOSS_MEANS == train.LOSS_MEANS


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--seconds", "inf"], "seconds must be finite numbers, got inf"),
        (["generate", "--seconds", "20"], "length 400 frames is outside [1, 196] frames"),
        (["generate", "--steps", "0"], "steps must be a positive int no larger than 1000"),
        (["generate", "--scheduler", "deis", "--steps", "1000"], "it takes at most 999 steps here"),
        (["generate", "--scheduler", "pndm", "--steps", "3"], "the pndm scheduler needs 4 steps or more, got 3"),
        (["generate", "--guidance", "-1"], "guidance_scale must be finite and >= 0"),
        (["generate", "--seed", "-1"], "seed must be an int in [0, 2**64 - 1]"),
        (
            ["count", "--prompt", "a person jumps", "--timestep", "1000"],
            "timestep must be an int in [0, 999], got 1000",
        ),
        (["ground", "--prompt", "a person jumps", "--threshold", "2"], "threshold must be in [0, 1], got 2.0"),
        (["invert", "--motion", "m.npy", "--depth", "0"], "depth must be in (0, 1], got 0.0"),
        (["evaluate", "--steps", "0"], "steps must be a positive int"),
        (["generate", "--capture-budget", "0"], "--capture-budget must be a positive number of MiB, got 0.0"),
        (["train", "--out", "run", "--steps", "0"], "--steps must be at least 1, got 0"),
    ],
)
def test_bad_plain_values_are_refused_before_torch_is_imported(tmp_path, argv, message):
    """The command line checks its plain values before it imports the model's stack (a refusal is at once, in
    the library's own words, status 2)."""
    import subprocess
    import sys

    code = (
        "import sys; from motionclr_lens.cli import main\n"
        "try:\n    status = main(sys.argv[1:])\nexcept SystemExit as e:\n    status = e.code\n"
        "print(status, sorted(m for m in ('torch', 'numpy', 'diffusers') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path)
    assert run.stdout.strip() == "2 []", (run.stdout, run.stderr)
    assert message in run.stderr, run.stderr


def test_the_plain_checks_agree_with_the_librarys():
    """The command line's early checks (no torch) refuse exactly what the library refuses: each scheduler's step
    range against diffusers' own schedules, lengths against the embedded pipeline's."""
    from motionclr_lens.checks import SCHEDULER_STEPS, check_seconds, check_steps
    from motionclr_lens.loading import load_model
    from motionclr_lens.sampling import SCHEDULERS, check_schedule

    assert sorted(SCHEDULER_STEPS) == sorted(SCHEDULERS)

    def refused(check, *args) -> str | None:
        try:
            check(*args)
        except ValueError as error:
            return str(error)
        return None

    for name, (fewest, most) in SCHEDULER_STEPS.items():
        for steps in {fewest - 1, fewest, most - 1, most, most + 1} - {0}:
            library = refused(check_schedule, name, steps) if steps <= 1000 else "more steps than timesteps"
            assert (refused(check_steps, name, steps) is None) == (library is None), (name, steps, library)
    pipe = load_model("embedded")
    for seconds in [0.0, 0.02, 0.03, 0.05, 4.0, 9.8, 9.82, 9.83, 10.0, -1.0, float("nan"), float("inf")]:
        library = refused(pipe.lengths_in_frames, 1, None, seconds)
        assert refused(check_seconds, seconds) == library, seconds


def test_ctrl_c_ends_a_command_with_one_line_and_status_130(monkeypatch, capsys):
    """Ctrl-C during a command: one line saying what was kept (training names its saved step), no traceback."""
    import motionclr_lens.cli as cli
    from motionclr_lens.train import TrainingInterrupted

    def interrupted(args):
        raise TrainingInterrupted(1234, Path("run") / "checkpoint.pt")

    monkeypatch.setattr(cli, "_inspect", interrupted)
    assert main(["inspect"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"interrupted: stopped after step 1234; saved to {Path('run') / 'checkpoint.pt'} (run again to resume)"
    ]
    monkeypatch.setattr(cli, "_inspect", lambda args: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["inspect"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted: stopped before anything more was written"
