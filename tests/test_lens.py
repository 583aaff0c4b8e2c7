"""The lens: captured maps and edits against the original code, and the hygiene of hooks."""

from __future__ import annotations

import threading

import pytest
import torch

from motionclr_lens.capture import CaptureBudgetError, CaptureSpec, capture, capture_keys
from motionclr_lens.edits import Erase, ExampleBased, Ground, Replace, Reweight, StyleTransfer, TimeShift
from motionclr_lens.hooks import Hook, active_hooks, explicit_attention, use_hooks
from motionclr_lens.sampling import guided_prediction
from motionclr_lens.text import get_tokenizer

PARITY_EDITS = {
    "none": [],
    "reweight_plus": [Reweight(0.3, tokens=(1, 2), rows=(0,)), Reweight(0.3, tokens=(2, 3), rows=(1,))],
    "reweight_minus": [Reweight(-0.3, tokens=(1, 2), rows=(0,)), Reweight(-0.3, tokens=(2, 3), rows=(1,))],
    "erase": [Erase(tokens=(3, 4), rows=(1,), factor=0.1, fraction=(0.5, 1.0))],
    "replace": [Replace(source=0, target=1, tokens=(3,), steps=range(3))],
    "time_shift": [TimeShift(source=0, target=1, ratio=0.5, steps=range(4))],
    "example_based": [ExampleBased(source=0, chunk=8, step=5, seed=200, seed_step=15)],
    "style_transfer": [StyleTransfer(style=0, content=1, steps=range(5))],
}
UNTOUCHED_ROWS = {"none": [0, 1], "erase": [0], "replace": [0], "time_shift": [0], "style_transfer": [0]}


@pytest.fixture(scope="module")
def forward(parity_pipeline, fixtures):
    fw = fixtures["forward"]
    with torch.no_grad():
        text = parity_pipeline.model.encode_text(get_tokenizer()(fw["texts"]))
    return fw, text


def test_captured_maps_equal_the_original(parity_pipeline, fixtures, forward):
    fw, text = forward
    with torch.no_grad(), capture(head_mean=True) as cache:
        guided_prediction(parity_pipeline.model, fw["x"], fw["timesteps"], text)
    expected = fixtures["captured_row0_headmean"]
    assert len(cache.layers("self")) == len(cache.layers("cross")) == 18
    for i in range(18):
        torch.testing.assert_close(cache["self", i, None][0, 0].double(), expected["self"][i], atol=1e-5, rtol=0)
        torch.testing.assert_close(
            cache["cross", i, None][0, 0, :, 1:4].double(), expected["cross_words_1_to_3"][i], atol=1e-5, rtol=0
        )


@pytest.mark.parametrize("case", sorted(PARITY_EDITS))
def test_sampling_with_edits_equals_the_original(parity_pipeline, fixtures, case):
    data = fixtures["sampling"][case]
    result = parity_pipeline.generate(
        data["texts"], lengths=64, scheduler="ddim", steps=10, noise=data["x_T"], edits=PARITY_EDITS[case]
    )
    torch.testing.assert_close(result.sample, data["x_0"], atol=1e-3, rtol=0)
    for row in UNTOUCHED_ROWS.get(case, []):
        torch.testing.assert_close(result.sample[row], data["x_0_without_edit"][row], atol=1e-3, rtol=0)
    if case != "none":  # the edit did something
        assert (result.sample - data["x_0_without_edit"]).abs().max() > 0.1


def test_attention_rows_sum_to_one(parity_pipeline):
    with capture(kinds=("self", "cross"), branches=("cond", "uncond"), steps=[0, 4]) as cache:
        parity_pipeline.generate(["a man jumps.", "a man waves."], lengths=40, steps=5)
    assert len(cache) == 2 * 18 * 2
    for key in cache:
        sums = cache[key].sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-5, rtol=0)
    assert cache["self", 0, 0].shape == (4, 8, 48, 48)  # 2 prompts x 2 branches, 8 heads, padded frames
    assert cache["cross", 0, 0].shape == (2, 8, 48, 77)  # cross-attention runs on conditional rows only
    assert cache.rows[("self", 0)] == ((0, "cond"), (1, "cond"), (0, "uncond"), (1, "uncond"))


def test_identity_hook_is_bit_identical(parity_pipeline, forward):
    fw, text = forward
    model = parity_pipeline.model
    with torch.no_grad():
        with explicit_attention():
            plain = guided_prediction(model, fw["x"], fw["timesteps"], text)
        with use_hooks(Hook(lambda t, c: t, points=("q", "k", "v", "scores", "weights", "out"))):
            hooked = guided_prediction(model, fw["x"], fw["timesteps"], text)
        with use_hooks(Hook(lambda t, c: None)):
            none_hook = guided_prediction(model, fw["x"], fw["timesteps"], text)
    assert torch.equal(plain, hooked) and torch.equal(plain, none_hook)


def test_zero_strength_edits_change_nothing(parity_pipeline):
    noise = torch.randn(1, 40, 263, generator=torch.Generator().manual_seed(0))
    base = parity_pipeline.generate("a man jumps.", lengths=40, noise=noise, scheduler="ddim")
    for edit in (
        Reweight(0.0, word="jumps"),
        Erase(word="jumps", factor=1.0),
        Ground(word="jumps", inside=0.0, outside=0.0),
    ):
        edited = parity_pipeline.generate("a man jumps.", lengths=40, noise=noise, scheduler="ddim", edits=[edit])
        assert torch.equal(edited.sample, base.sample), edit


def test_no_hook_survives_a_block_an_exception_or_an_interrupt(parity_pipeline):
    assert active_hooks() == ()
    with capture() as cache:
        assert len(active_hooks()) == 1
    assert active_hooks() == ()
    with pytest.raises(RuntimeError), capture():
        raise RuntimeError("boom")
    assert active_hooks() == ()
    try:
        with use_hooks(Hook(lambda t, c: None)), use_hooks(Hook(lambda t, c: None)):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert active_hooks() == ()
    # A failing edit inside generate leaves nothing behind either.
    with pytest.raises(ValueError):
        parity_pipeline.generate("a man jumps.", lengths=20, edits=[Reweight(0.3, word="runs")])
    assert active_hooks() == ()
    assert len(cache) == 0


def test_two_threads_do_not_mix(parity_pipeline):
    noise = torch.randn(1, 32, 263, generator=torch.Generator().manual_seed(1))

    def plain():
        return parity_pipeline.generate(
            "a man waves.", lengths=32, noise=noise, generator=torch.Generator().manual_seed(5)
        )

    solo = plain().sample
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def captured() -> None:
        with capture(kinds=("cross",), layers=[0]) as cache:
            barrier.wait()
            parity_pipeline.generate("a man jumps.", lengths=32, steps=7)
        results["cache"] = cache

    def edited_elsewhere() -> None:
        barrier.wait()
        results["plain"] = plain().sample

    threads = [threading.Thread(target=captured), threading.Thread(target=edited_elsewhere)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cache = results["cache"]
    assert cache.keys() == [("cross", 0, s) for s in range(7)]  # only its own 7 steps, one prompt
    assert cache["cross", 0, 0].shape[0] == 1
    assert torch.equal(results["plain"], solo)


@pytest.mark.parametrize("steps", [7, 10, 25])
def test_any_number_of_steps_is_captured(parity_pipeline, steps):
    with capture(kinds=("self",), layers=[17], head_mean=True) as cache:
        parity_pipeline.generate("a man jumps.", lengths=24, steps=steps)
    assert cache.steps("self", 17) == list(range(steps))
    assert cache.stack_steps("self", 17).shape == (steps, 1, 1, 32, 32)


def test_memory_estimate_and_budget(parity_pipeline):
    spec = CaptureSpec(branches=("cond", "uncond"))
    with capture(spec) as cache:
        parity_pipeline.generate(["a man jumps.", "a man waves."], lengths=50, steps=3)
    assert cache.estimated_bytes == cache.nbytes > 0
    with capture(head_mean=True, step_mean=True) as small:
        parity_pipeline.generate("a man jumps.", lengths=50, steps=3)
    assert small.estimated_bytes == small.nbytes
    assert small["self", 3, None].shape[1] == 1
    with (
        pytest.raises(CaptureBudgetError, match=r"MiB, over the budget of 0\.1 MiB"),
        capture(budget_bytes=2**20 // 10) as c,
    ):
        parity_pipeline.generate("a man jumps.", lengths=50, steps=3)
    assert len(c) == 0  # failed before the first step


def test_hooks_select_by_the_names_the_model_lists(parity_pipeline):
    model = parity_pipeline.model
    names = model.hook_points()
    seen: list[str] = []
    record = lambda t, ctx: seen.append(ctx.hook_name)  # noqa: E731
    with use_hooks(Hook(record, names=[names[-1], "down0.*.self.q"])):
        parity_pipeline.generate("a man jumps.", lengths=24, steps=2, guidance_scale=1.0)
    down0_q = [n for n in names if n.startswith("down0.") and n.endswith(".self.q")]
    assert len(down0_q) == 2 and sorted(set(seen)) == sorted([names[-1], *down0_q])
    assert len(seen) == 2 * 3  # each of the three points once per step
    seen.clear()
    with use_hooks(Hook(record, names="*.cross.weights", layers=[0])):
        parity_pipeline.generate("a man jumps.", lengths=24, steps=1, guidance_scale=1.0)
    assert seen == [names[0].replace("self.q", "cross.weights")]
    with pytest.raises(ValueError, match=r"hook point name 'down0\.0\.self\.attn' is not"):
        Hook(record, names=["down0.0.self.attn"])


def test_each_run_in_one_capture_keeps_its_own_maps(parity_pipeline):
    """Six steps then three at another length: the cache reads the second run alone, its mean its own, and
    `cache.runs` holds both, never a mix."""
    seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with capture(kinds=("self",), layers=[17], step_mean=False) as first:
        parity_pipeline.generate("a man jumps.", lengths=40, steps=6, generator=seed())
    with capture(kinds=("self",), layers=[17], step_mean=False) as cache, capture_keys(layers=[17]) as keys:
        parity_pipeline.generate("a man jumps.", lengths=40, steps=6, generator=seed())
        parity_pipeline.generate("a man waves.", lengths=24, steps=3)
    assert cache.steps("self", 17) == [0, 1, 2] and cache["self", 17, 0].shape[-1] == 32
    assert [len(run.plan.timesteps) for run in cache.runs] == [6, 3] and cache.runs[-1] is cache
    earlier = cache.runs[0]
    assert earlier.steps("self", 17) == list(range(6)) and earlier.rows == first.rows
    for step in range(6):
        assert torch.equal(earlier["self", 17, step], first["self", 17, step])
    assert [run.steps(17) for run in keys.runs] == [list(range(6)), [0, 1, 2]]
    assert keys.runs[0][17, 0].shape[1] == 48 and keys[17, 0].shape[1] == 32
    with capture(kinds=("self",), layers=[17], step_mean=True) as alone:
        parity_pipeline.generate("a man waves.", lengths=24, steps=3, generator=seed())
    with capture(kinds=("self",), layers=[17], step_mean=True) as both:
        parity_pipeline.generate("a man jumps.", lengths=40, steps=6, generator=seed())
        parity_pipeline.generate("a man waves.", lengths=24, steps=3, generator=seed())
    assert torch.equal(both["self", 17, None], alone["self", 17, None])


def test_the_budget_counts_what_earlier_runs_in_the_block_keep(parity_pipeline):
    with capture(kinds=("cross",), layers=[0]) as one:
        parity_pipeline.generate("a man jumps.", lengths=24, steps=3)
    budget = one.estimated_bytes * 3 // 2  # one run fits, two do not
    message = r"besides the .* MiB earlier runs in this block keep"
    with (
        pytest.raises(CaptureBudgetError, match=message),
        capture(kinds=("cross",), layers=[0], budget_bytes=budget) as cache,
    ):
        parity_pipeline.generate("a man jumps.", lengths=24, steps=3)
        parity_pipeline.generate("a man waves.", lengths=24, steps=3)
    assert len(cache.runs) == 1 and cache.nbytes == one.estimated_bytes


def test_a_sink_receives_every_map_and_the_cache_keeps_none(parity_pipeline):
    seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with capture(kinds=("cross",), layers=[0, 5]) as kept:
        parity_pipeline.generate("a man jumps.", lengths=24, steps=3, generator=seed())
    received = {}
    with capture(kinds=("cross",), layers=[0, 5], sink=lambda key, maps: received.setdefault(key, maps)) as cache:
        parity_pipeline.generate("a man jumps.", lengths=24, steps=3, generator=seed())
    assert len(cache) == 0 and sorted(received) == sorted(kept.keys())
    for key, maps in received.items():
        assert torch.equal(maps, kept[key])
    means = {}
    with capture(kinds=("cross",), layers=[0], step_mean=True, sink=means.__setitem__) as cache:
        parity_pipeline.generate("a man jumps.", lengths=24, steps=3, generator=seed())
    assert list(means) == [("cross", 0, None)] and len(cache) == 0
    torch.testing.assert_close(means["cross", 0, None], kept.stack_steps("cross", 0).mean(0))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layers": [18]}, r"capture: layers \[18\] do not exist \(valid: 0\.\.17\)"),
        ({"steps": [3]}, r"capture: steps \[3\] are past the schedule of 3 steps \(valid: 0\.\.2\)"),
        ({"heads": [8]}, r"capture: heads \[8\] do not exist \(valid: 0\.\.7\)"),
    ],
)
def test_a_capture_checks_its_spec_before_the_run(parity_pipeline, options, message):
    with pytest.raises(ValueError, match=message), capture(**options) as cache:
        parity_pipeline.generate("a man jumps.", lengths=24, steps=3)
    assert len(cache) == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            Reweight(0.3, word="runs"),
            r"word 'runs' is not in prompt 'a man jumps\.'; its words are \['a', 'man', 'jumps'\]",
        ),
        (Reweight(0.3, word="jumps", rows=(2,)), r"row 2 is out of range for 2 prompts \(valid: 0\.\.1\)"),
        (Replace(source=0, target=5, word="waves"), r"target 5 is out of range"),
        (StyleTransfer(steps=range(8, 12)), r"steps \[10, 11\] are past the schedule of 10 steps \(valid: 0\.\.9\)"),
        (Erase(word="jumps", seconds=(1.0, 3.0)), r"window \(1\.0, 3\.0\) s is outside prompt 0's motion of 2\.00 s"),
        (Ground(word="jumps", seconds=(-1.0, 1.0)), r"outside prompt 0's motion"),
        (Reweight(0.3, word="jumps", layers=[18]), r"layers \[18\] do not exist \(valid: 0\.\.17\)"),
    ],
)
def test_bad_edit_input(parity_pipeline, edit, message):
    with pytest.raises((ValueError, KeyError), match=message):
        parity_pipeline.generate(["a man jumps.", "a man waves."], lengths=40, edits=[edit])


def test_word_edits_follow_the_tokenizer(parity_pipeline):
    """A word of several tokens edits every one of them; the same edit by tokens gives the same motion."""
    prompt = "a person's arms-circle"
    noise = torch.randn(1, 32, 263, generator=torch.Generator().manual_seed(2))
    by_word = parity_pipeline.generate(
        prompt, lengths=32, noise=noise, scheduler="ddim", edits=[Reweight(0.5, word="arms-circle")]
    )
    by_tokens = parity_pipeline.generate(
        prompt, lengths=32, noise=noise, scheduler="ddim", edits=[Reweight(0.5, tokens=(4, 5, 6))]
    )
    assert torch.equal(by_word.sample, by_tokens.sample)


def test_captured_maps_are_snapshots(parity_pipeline):
    """A capture keeps its own copy: a capture of the computed maps (`after_edits=False`) is not changed by a
    hook after it that scales the weights in place (its maps still sum to one), while the default capture keeps
    what the model used (sums of one half)."""

    def scale_in_place(weights, ctx):
        weights.mul_(0.5)

    with (
        capture(kinds=("self",), layers=[0, 17], after_edits=False) as computed,
        capture(kinds=("self",), layers=[0, 17]) as used,
        use_hooks(Hook(scale_in_place, kinds=("self",))),
    ):
        parity_pipeline.generate("a man jumps.", lengths=24, steps=2)
    for key in computed:
        sums = computed[key].sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-5, rtol=0)
        torch.testing.assert_close(used[key].sum(-1), sums / 2, atol=1e-5, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_maps_move_to_the_host_once_per_step(parity_pipeline):
    """On a GPU, maps stay on the device during a step and land in pinned host memory after it."""
    pipe = parity_pipeline.to("cuda")
    try:
        with capture(kinds=("self", "cross"), device="cpu") as cache:
            pipe.generate("a man jumps.", lengths=24, steps=3)
        assert all(t.device.type == "cpu" and t.is_pinned() for t in cache.maps.values())
        with capture(kinds=("self", "cross"), device="cuda") as on_device:
            pipe.generate("a man jumps.", lengths=24, steps=3)
        for key in cache:
            torch.testing.assert_close(cache[key], on_device[key].cpu(), atol=0, rtol=0)
    finally:
        parity_pipeline.to("cpu")


def test_a_capture_shows_the_edit_on_the_side_it_records(parity_pipeline):
    """By default a capture keeps the maps the model used: a reweighted word's column is the computed one plus
    alpha where the edit applies, the rest unchanged; `after_edits=False` keeps the computed maps, which at the
    first edited layer of the first step equal an unedited run's."""
    seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    edit = Reweight(-0.4, word="jumps", layers=[3, 17])
    with (
        capture(kinds=("cross",), layers=[3, 5, 17]) as used,
        capture(kinds=("cross",), layers=[3, 5, 17], after_edits=False) as computed,
    ):
        parity_pipeline.generate("a man jumps.", lengths=24, steps=2, edits=[edit], generator=seed())
    with capture(kinds=("cross",), layers=[3, 5, 17]) as plain:
        parity_pipeline.generate("a man jumps.", lengths=24, steps=2, generator=seed())
    columns = list(parity_pipeline.tokenizer.tokenize_prompt("a man jumps.").word("jumps").tokens)
    # the first edited layer computes what an unedited run computes; the layers after it see the edit's effect
    torch.testing.assert_close(computed["cross", 3, 0], plain["cross", 3, 0], atol=0, rtol=0)
    assert not torch.allclose(computed["cross", 5, 0], plain["cross", 5, 0])
    for layer in (3, 5, 17):
        before, after = computed["cross", layer, 0], used["cross", layer, 0]
        expected = before.clone()
        if layer != 5:
            expected[..., columns] += -0.4
        torch.testing.assert_close(after, expected, atol=1e-6, rtol=0)
    assert not torch.equal(used["cross", 3, 1], computed["cross", 3, 1])
