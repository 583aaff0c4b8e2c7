"""The text-to-motion evaluator against the original's code (tests/fixtures/evaluator_parity.pt, made by
docs/scripts/make_evaluator_fixtures.py on random weights), and its files read safely."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from motionclr_lens.evaluation import Evaluator, EvaluatorConfig, WordVectorizer, metrics, read_safe_pickle

FIXTURES = Path(__file__).parent / "fixtures" / "evaluator_parity.pt"


@pytest.fixture(scope="module")
def parity():
    return torch.load(FIXTURES, weights_only=True)


@pytest.fixture(scope="module")
def evaluator(parity):
    s = parity["sizes"]
    config = EvaluatorConfig(
        dim_pose=s["dim_pose"], dim_word=s["dim_word"], dim_pos=s["dim_pos"], text_hidden=s["text_hidden"],
        motion_hidden=s["motion_hidden"], movement_hidden=s["movement_hidden"],
        movement_latent=s["movement_latent"], embedding=s["embedding"],
    )  # fmt: skip
    vocabulary = parity["vocabulary"]
    words = WordVectorizer(
        vocabulary["vectors"].numpy(), vocabulary["words"], {w: i for i, w in enumerate(vocabulary["words"])}
    )
    evaluator = Evaluator(config, words=words)
    evaluator.load_state_dict(parity["weights"])
    return evaluator


def motions_of(parity):
    motions = torch.zeros(len(parity["lengths"]), 196, parity["sizes"]["dim_pose"])
    for i, part in enumerate(parity["frames"].split(parity["lengths"].tolist())):
        motions[i, : len(part)] = part
    return motions


def test_captions_become_the_originals_inputs(parity, evaluator):
    """Start and end tokens, at most 20 words, 'unk' padding; special words over their tags; unknown and
    capitalised words to 'unk' and OTHER."""
    words, pos, lengths = evaluator.prepare_captions(parity["captions"])
    assert torch.equal(lengths, parity["caption_lengths"])
    torch.testing.assert_close(words, parity["word_embs"].float(), atol=0, rtol=0)
    torch.testing.assert_close(pos, parity["pos"].float(), atol=0, rtol=0)


def test_embeddings_equal_the_originals(parity, evaluator):
    motions = motions_of(parity)
    text, motion = evaluator.co_embeddings(
        parity["word_embs"], parity["pos"], parity["caption_lengths"], motions, parity["lengths"]
    )
    torch.testing.assert_close(text, parity["text_emb"], atol=1e-5, rtol=0)
    torch.testing.assert_close(motion, parity["motion_emb"], atol=1e-5, rtol=0)
    torch.testing.assert_close(
        evaluator.motion_embeddings(motions, parity["lengths"]), parity["motion_only"], atol=1e-5, rtol=0
    )
    # the quirks that make them: the padding is read (the last token sees it), and the order is by length
    longer = motions.clone()
    longer[2, 5:8] = 1.0  # past motion 2's 5 frames, inside what its one token reads
    assert not torch.allclose(evaluator.motion_embeddings(longer, parity["lengths"]), parity["motion_only"])
    order = evaluator.alignment(parity["lengths"])
    assert (np.diff(parity["lengths"].numpy()[order]) <= 0).all()


def test_metrics_equal_the_originals(parity):
    m = parity["metrics"]
    a, b, c, mm = (m[k].numpy() for k in ("a", "b", "c", "mm"))
    np.testing.assert_allclose(
        metrics.euclidean_distance_matrix(a[:32], b[:32]), m["distances"].numpy(), atol=1e-6, rtol=0
    )
    matching, r_precision, activations = metrics.matching_and_r_precision([(a[:32], b[:32]), (a[32:], b[32:])])
    assert abs(matching - m["matching"]) < 1e-6
    np.testing.assert_allclose(r_precision, m["r_precision"].numpy(), atol=1e-6, rtol=0)
    np.testing.assert_array_equal(activations, b)
    fid = metrics.frechet_distance(*metrics.activation_statistics(b), *metrics.activation_statistics(c))
    assert abs(fid - m["fid"]) < 1e-6
    state = np.random.get_state()
    try:
        np.random.seed(m["diversity_seed"])
        assert abs(metrics.diversity(c, 40, rng=np.random) - m["diversity"]) < 1e-6
        np.random.seed(m["multimodality_seed"])
        assert abs(metrics.multimodality(mm, 10, rng=np.random) - m["multimodality"]) < 1e-6
    finally:
        np.random.set_state(state)
    mean, half = metrics.interval(m["values"].numpy())
    np.testing.assert_allclose(mean, m["mean"].numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(half, m["conf"].numpy(), atol=1e-12, rtol=0)


def test_metric_edge_cases_name_the_problem():
    with pytest.raises(ValueError, match=r"N > times = 300, got \(10, 4\)"):
        metrics.diversity(np.zeros((10, 4), np.float32))
    with pytest.raises(ValueError, match=r"R > times = 10, got \(2, 5, 4\)"):
        metrics.multimodality(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match="one D"):
        metrics.euclidean_distance_matrix(np.zeros((2, 3)), np.zeros((2, 4)))
    assert metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3)) == pytest.approx(0, abs=1e-9)


class _Payload:
    def __reduce__(self):
        return (print, ("a payload ran",))


def test_evaluator_files_are_named_when_missing_or_unsafe(tmp_path, parity, capsys):
    with pytest.raises(FileNotFoundError, match=r"missing checkpoint .*finest\.tar.*mean .*t2m_mean\.npy"):
        Evaluator.from_data_folder(tmp_path)
    glove = tmp_path / "glove"
    glove.mkdir()
    np.save(glove / "our_vab_data.npy", np.zeros((2, 3), np.float32))
    (glove / "our_vab_words.pkl").write_bytes(pickle.dumps(["unk", "walk"]))
    (glove / "our_vab_idx.pkl").write_bytes(pickle.dumps({"unk": 0, "walk": 1}))
    (tmp_path / "checkpoints/t2m/text_mot_match/model").mkdir(parents=True)
    checkpoint = tmp_path / "checkpoints/t2m/text_mot_match/model/finest.tar"
    np.save(tmp_path / "t2m_mean.npy", np.zeros(263, np.float32))
    np.save(tmp_path / "t2m_std.npy", np.ones(263, np.float32))
    torch.save({"movement_encoder": {}, "epoch": 1, "note": _Payload()}, checkpoint)
    with pytest.raises(ValueError, match=r"finest\.tar: cannot be read as the evaluator \(it holds objects other"):
        Evaluator.from_data_folder(tmp_path)
    torch.save({"movement_encoder": parity["weights"]["movement_encoder"], "epoch": 1}, checkpoint)
    with pytest.raises(ValueError, match=r"finest\.tar: not the evaluator's weights: no 'text_encoder'"):
        Evaluator.from_data_folder(tmp_path)
    weights = {k: dict(v) for k, v in parity["weights"].items()}
    torch.save({**weights, "epoch": 7}, checkpoint)  # the sizes are read from the weights
    with pytest.raises(ValueError, match=r"mean and std must be \(24,\)"):
        Evaluator.from_data_folder(tmp_path)
    np.save(tmp_path / "t2m_mean.npy", np.zeros(24, np.float32))
    np.save(tmp_path / "t2m_std.npy", np.ones(24, np.float32))
    loaded = Evaluator.from_data_folder(tmp_path)
    assert loaded.config.motion_hidden == parity["sizes"]["motion_hidden"] and loaded.words is not None
    motion = loaded.motion_embeddings(motions_of(parity), parity["lengths"])
    torch.testing.assert_close(motion, parity["motion_only"], atol=1e-5, rtol=0)
    weights["text_encoder"]["hidden"] = torch.zeros(2, 1, 5)
    torch.save({**weights, "epoch": 7}, checkpoint)
    with pytest.raises(ValueError, match=r"text_encoder does not fit the evaluator: .*hidden"):
        Evaluator.from_data_folder(tmp_path)
    checkpoint.write_bytes(b"")
    with pytest.raises(ValueError, match=r"finest\.tar: cannot be read"):
        Evaluator.from_data_folder(tmp_path)
    (glove / "our_vab_words.pkl").write_bytes(pickle.dumps(["unk", _Payload()]))
    (glove / "our_vab_idx.pkl").write_bytes(pickle.dumps({"unk": 0}))
    with pytest.raises(ValueError, match=r"our_vab_words\.pkl: not a plain pickle \(it names builtins\.print"):
        WordVectorizer.from_folder(glove)
    (glove / "our_vab_words.pkl").write_bytes(pickle.dumps(["unk", "walk"]))
    (glove / "our_vab_idx.pkl").write_bytes(pickle.dumps({"unk": 0, "walk": 7}))
    with pytest.raises(ValueError, match=r"1 words have no row"):
        WordVectorizer.from_folder(glove)
    (glove / "our_vab_idx.pkl").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing .*our_vab_idx\.pkl"):
        WordVectorizer.from_folder(glove)
    assert read_safe_pickle(glove / "our_vab_words.pkl") == ["unk", "walk"]
    assert "a payload ran" not in capsys.readouterr().out


def test_the_protocol_scores_a_pipeline_repeatably(tmp_path):
    """The paper's protocol on the embedded model with a small random evaluator: every metric for the real and
    the generated motions, intervals over the repeats, the same numbers for the same seed."""
    from motionclr_lens import load_embedded
    from motionclr_lens.data import MotionText
    from motionclr_lens.evaluation.protocol import METRICS, evaluate

    evaluator, _ = _small_world_evaluator()
    pipe = load_embedded()
    rng = np.random.default_rng(1)
    texts = ["a person walks forward", "a person jumps", "a person waves then walks forward"]
    items = []
    for i in range(16):
        text = texts[i % 3]
        features = pipe.denormalize(
            torch.from_numpy(rng.normal(size=(int(rng.integers(44, 120)), 263)).astype(np.float32) * 0.3)
        )
        items.append(MotionText(f"m{i}", np.asarray(features), [text], [[f"{w}/OTHER" for w in text.split()]]))
    options = dict(repeats=2, batch_size=8, diversity_times=10, mm_texts=2, mm_repeats=6, mm_times=5, steps=1)
    first = evaluate(pipe, items, evaluator, **options)
    again = evaluate(pipe, items, evaluator, **options)
    summary = first.summary()
    assert set(summary) == set(METRICS)
    assert set(summary["FID"]) == {"ground truth", "generated"} and set(summary["MultiModality"]) == {"generated"}
    assert all(len(v) == 2 for by_source in first.values.values() for v in by_source.values())
    for source in ("ground truth", "generated"):
        tops = [summary[f"R-precision top {k}"][source][0] for k in (1, 2, 3)]
        assert 0 <= tops[0] <= tops[1] <= tops[2] <= 1
        assert summary["FID"][source][0] >= 0 and summary["FID"][source][1] >= 0
    assert first.values == again.values  # the same seed, the same draws and motions
    assert all(v[0] != v[1] for v in first.values["FID"].values())  # each repeat its own draws
    table = first.to_markdown()
    assert table.count("\n") == 3 and "| generated |" in table and "±" in table
    with pytest.raises(
        ValueError, match=r"16 items give 16 motions in full batches of 8: diversity needs more than 300"
    ):
        evaluate(pipe, items, evaluator, batch_size=8)
    items[0] = MotionText("bare", items[0].features, ["a person jumps"])
    with pytest.raises(ValueError, match=r"bare: its captions have no 'word/POS' tokens"):
        evaluate(pipe, items, evaluator, **options)


def test_free_captions_need_spacy_and_say_how_to_get_it(monkeypatch):
    import builtins

    from motionclr_lens.evaluation import tag_caption

    real_import = builtins.__import__

    def no_spacy(name, *args, **kwargs):
        if name == "spacy":
            raise ImportError("no spacy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_spacy)
    with pytest.raises(ImportError, match=r"pip install spacy && python -m spacy download en_core_web_sm"):
        tag_caption("a person walks forward")


def test_a_world_evaluator_trains_saves_and_loads_the_same(tmp_path):
    """A few steps on a few world motions: the loss falls, and the written evaluator embeds as the trained one
    (up to its float16 weights)."""
    from motionclr_lens.evaluation.world import (
        WorldEvaluatorRecipe,
        load_world_evaluator,
        train_world_evaluator,
        world_items,
    )

    items = world_items("train", 48, workers=1)
    assert all(len(item.tokens) == len(item.captions) for item in items)
    later = world_items("train", 2, workers=1, start=46)  # a draw from any index: the same motions
    assert [m.id for m in later] == [m.id for m in items[46:]]
    assert all(np.array_equal(a.features, b.features) for a, b in zip(later, items[46:], strict=True))
    recipe = WorldEvaluatorRecipe(samples=48, steps=30, batch_size=16, lr=3e-3)
    trained = train_world_evaluator(tmp_path, recipe, items)
    meta = __import__("json").loads((tmp_path / "world_evaluator.json").read_text())
    assert meta["history"][-1]["loss"] < meta["history"][0]["loss"]
    loaded = load_world_evaluator(tmp_path)
    captions, motions = [(item, 0) for item in items[:8]], [item.features[:80] for item in items[:8]]
    for a, b in zip(trained.pair_embeddings(captions, motions), loaded.pair_embeddings(captions, motions), strict=True):
        np.testing.assert_allclose(a, b, atol=0.05 * np.abs(a).max(), rtol=0)
    (tmp_path / "world_evaluator.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing .*world_evaluator\.json"):
        load_world_evaluator(tmp_path)


def _small_world_evaluator():
    from motionclr_lens.evaluation.world import world_tokens

    torch.manual_seed(0)
    config = EvaluatorConfig(
        dim_word=8, text_hidden=8, motion_hidden=8, movement_hidden=8, movement_latent=8, embedding=8
    )
    words = ["unk", "sos", "eos", "a", "person", "walks", "forward", "jumps", "waves", "then", "man"]
    vectors = np.random.default_rng(0).normal(size=(len(words), 8)).astype(np.float32)
    evaluator = Evaluator(config, words=WordVectorizer(vectors, words, {w: i for i, w in enumerate(words)}))
    for module in evaluator.modules():
        for p in module.parameters():
            torch.nn.init.normal_(p, std=0.3)
    return evaluator, world_tokens


def test_a_sweep_store_is_scored_after_the_fact(tmp_path):
    """Each edit list's motions scored against their prompts: the same numbers as scoring the motions directly."""
    from motionclr_lens import load_embedded
    from motionclr_lens.data import MotionText
    from motionclr_lens.edits import Reweight
    from motionclr_lens.evaluation.protocol import score_motions, score_sweep
    from motionclr_lens.sweep import open_sweep, run_sweep

    evaluator, tokens = _small_world_evaluator()
    pipe = load_embedded()
    prompts = ["a person walks forward", "a person jumps"]
    run_sweep(
        pipe, prompts, [[], [Reweight(-0.5, word="person")]], [0, 1], out=tmp_path / "s.zarr", steps=2, seconds=2.4
    )
    rng = np.random.default_rng(0)
    reference = [
        np.asarray(pipe.denormalize(torch.from_numpy(rng.normal(size=(48, 263)).astype(np.float32) * 0.3)))
        for _ in range(6)
    ]
    scores = score_sweep(tmp_path / "s.zarr", evaluator, reference, tokens, batch_size=4, diversity_times=3)
    assert sorted(scores) == [0, 1] and scores[0] != scores[1]
    store = open_sweep(tmp_path / "s.zarr")
    jobs = [j for j in store.done() if j.edit == 1]
    items = [MotionText(str(j.id), store.features(j), [prompts[j.prompt]], [tokens(prompts[j.prompt])]) for j in jobs]
    direct = score_motions(
        items, [store.features(j) for j in jobs], evaluator, reference, batch_size=4, diversity_times=3
    )
    assert direct == scores[1]
    assert 0 <= direct["R-precision top 1"] <= direct["R-precision top 3"] <= 1 and direct["FID"] >= 0
    with pytest.raises(ValueError, match=r"at least one full batch of 32 motions \(got 4\)"):
        score_motions(items, [store.features(j) for j in jobs], evaluator, reference)


def test_an_edit_curve_moves_the_edited_words_share_and_draws(tmp_path):
    """Reweighting "jumps" from -0.5 to +0.5: the attention the model put on the word rises with alpha; every
    strength has the protocol's metrics; the figure has a panel per metric and one for the attention."""
    from motionclr_lens import load_embedded
    from motionclr_lens.data import MotionText
    from motionclr_lens.edits import Reweight
    from motionclr_lens.evaluation.curves import edit_curve

    evaluator, tokens = _small_world_evaluator()
    pipe = load_embedded()
    rng = np.random.default_rng(2)
    texts = ["a person jumps", "a person walks forward then jumps"]
    items = []
    for i in range(8):
        features = pipe.denormalize(torch.from_numpy(rng.normal(size=(48, 263)).astype(np.float32) * 0.3))
        items.append(MotionText(f"m{i}", np.asarray(features), [texts[i % 2]], [tokens(texts[i % 2])]))
    curve = edit_curve(
        pipe, items, evaluator, lambda a: Reweight(a, word="jumps") if a else None, [-0.5, 0.0, 0.5], "jumps",
        attention_prompts=2, label="alpha", repeats=1, batch_size=4, diversity_times=3, mm_texts=0, steps=2,
    )  # fmt: skip
    attention, half = curve.word_attention()
    assert attention[0] < attention[1] < attention[2] and (half >= 0).all()
    assert [row["alpha"] for row in curve.rows()] == [-0.5, 0.0, 0.5]
    assert all("FID" in row and "word attention" in row for row in curve.rows())
    fig = curve.plot()
    assert len(fig.axes) == 3 and fig.axes[2].get_title() == 'attention on "jumps"'
    fig.savefig(tmp_path / "curve.png")
    with pytest.raises(ValueError, match="no caption of the items holds the word 'waves'"):
        edit_curve(pipe, items, evaluator, lambda a: None, [0.0], "waves")


def test_the_command_line_evaluates_and_writes_every_repeat(tmp_path, capsys):
    from motionclr_lens.cli import main
    from motionclr_lens.evaluation.world import WorldEvaluatorRecipe, train_world_evaluator, world_items

    train_world_evaluator(
        tmp_path / "ev", WorldEvaluatorRecipe(steps=5, batch_size=8), world_items("train", 16, workers=1)
    )
    out = tmp_path / "scores.json"
    argv = ["evaluate", "--evaluator", str(tmp_path / "ev"), "--world", "base", "--count", "40", "--repeats", "2",
            "--steps", "1", "--mm-texts", "0", "--diversity-times", "5", "--json", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "| ground truth |" in table and "| generated |" in table
    data = __import__("json").loads(out.read_text())
    assert len(data["values"]["FID"]["generated"]) == 2 and data["settings"]["items"] == 40
    assert main(argv) == 2 and "exists; pass --force" in capsys.readouterr().err
    assert main(["evaluate", "--evaluator", str(tmp_path / "nothing")]) == 2
    assert "no evaluator folder" in capsys.readouterr().err
