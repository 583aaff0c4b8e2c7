"""The offline CLIP tokenizer against the original `clip.tokenize`, and its word spans."""

from __future__ import annotations

import pytest
import torch

from motionclr_lens.text import END_ID, START_ID, get_tokenizer


def test_fixture_rows_exact(fixtures):
    tokens = fixtures["tokens"]
    ids = get_tokenizer()(tokens["prompts"])
    assert ids.dtype == torch.long and ids.shape == (8, 77)
    assert torch.equal(ids, tokens["ids"])


@pytest.mark.parametrize(
    ("prompt", "ids"),
    [
        ("a man jumps.", [49406, 320, 786, 18911, 269, 49407]),
        ("a person does jumping jacks", [49406, 320, 2533, 1897, 11476, 19649, 49407]),
    ],
)
def test_known_ids(prompt, ids):
    row = get_tokenizer()(prompt)[0]
    assert row[: len(ids)].tolist() == ids
    assert (row[len(ids) :] == 0).all()


def test_truncation_keeps_end_id():
    tok = get_tokenizer()
    prompt = " ".join(["walk"] * 100)
    tp = tok.tokenize_prompt(prompt)
    assert tp.truncated and len(tp.ids) == 77
    assert tp.ids[0] == START_ID and tp.ids[-1] == END_ID
    assert len(tp.words) == 75  # the words whose tokens fit between start and end


def test_empty_prompt():
    tp = get_tokenizer().tokenize_prompt("")
    assert tp.ids == (START_ID, END_ID) and tp.words == ()


def test_word_spans_from_offsets():
    tp = get_tokenizer().tokenize_prompt("Someone kicks with the LEFT leg, twice!")
    assert [w.text for w in tp.words] == ["someone", "kicks", "with", "the", "left", "leg", "twice"]
    # The comma is token 7, so "twice" sits at 8.
    assert tp.word("twice").tokens == (8,)
    assert tp.word("LEFT").tokens == (5,)


def test_multi_token_words():
    tok = get_tokenizer()
    tp = tok.tokenize_prompt("a person's arms-circle 3 times")
    spans = {w.text: w.tokens for w in tp.words}
    assert spans["person's"] == (2, 3)
    assert spans["arms-circle"] == (4, 5, 6)
    for w in tp.words:  # every word's tokens decode back to the word
        assert tok.decode([tp.ids[i] for i in w.tokens]).replace(" ", "") == w.text


def test_unknown_word_lists_the_prompt_words():
    tp = get_tokenizer().tokenize_prompt("a man jumps.")
    with pytest.raises(KeyError, match=r"'a', 'man', 'jumps'"):
        tp.word("runs")
    with pytest.raises(IndexError, match="has 3 words"):
        tp.word(3)


def _uncut(tok, prompt: str) -> list[int]:
    """The ids of a prompt with every piece encoded whole, then cut to the context (the original's way)."""
    from motionclr_lens.text import clean_text

    ids = [tok.start_id, *tok._encode_with_chars(clean_text(prompt))[0], tok.end_id]
    if len(ids) > tok.context_length:
        ids = ids[: tok.context_length]
        ids[-1] = tok.end_id
    return ids


def test_long_prompts_are_cut_before_bpe_with_the_same_ids(caplog):
    """A prompt far over the context gives the ids of encoding it whole and cutting after, without encoding
    what cannot fit; the warning quotes a short prefix."""
    import random

    tok = get_tokenizer()
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    prompts = [
        "a" * 5000,
        "jumps" * 900,
        "".join(rng.choice(letters) for _ in range(3000)),
        " ".join("".join(rng.choice(letters) for _ in range(rng.randint(1, 40))) for _ in range(300)),
        "a person walks forward " * 20 + "x" * 2000,
        "é漢字" * 700,
    ]
    for prompt in prompts:
        tokenized = tok.tokenize_prompt(prompt)
        assert list(tokenized.ids) == _uncut(tok, prompt) and tokenized.truncated
        assert len(tokenized.ids) == tok.context_length
    assert all(len(record.getMessage()) < 400 for record in caplog.records)
