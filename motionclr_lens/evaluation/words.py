"""Captions as the evaluator reads them: HumanML3D's `word/POS` tokens -> GloVe vectors and part-of-speech one-hots.

The vocabulary is the one the evaluator was trained with (`our_vab_data.npy`, `our_vab_words.pkl`,
`our_vab_idx.pkl`); its pickles hold only a list and a dict of plain words and numbers and are read by an unpickler
that refuses any other object, so a file that would run code is refused. Lookups are case-sensitive; a word of one
of five lists (places and directions, body parts, objects, actions, manners) takes that list's category instead of
its tag; a word outside the vocabulary takes the 'unk' vector and the OTHER category whatever its tag.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MAX_TEXT_LEN",
    "POS",
    "SPECIAL_WORDS",
    "WordVectorizer",
    "caption_tokens",
    "read_safe_pickle",
    "tag_caption",
]

MAX_TEXT_LEN = 20  # words kept of a caption; with the start and end tokens, 22 positions
POS = ("VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
       "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER")  # fmt: skip
SPECIAL_WORDS = {  # checked in this order; a word in one takes its category over its tag
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back", "backward",
                "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee", "shoulder",
                 "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball", "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance", "jump",
                "turn", "stumble", "stop", "sit", "lift", "lower", "raise", "wash", "stand", "kneel", "stroll", "rub",
                "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate", "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad", "happily",
                 "angrily", "sadly"),
}  # fmt: skip


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"it names {module}.{name}: only plain lists, dicts, words and numbers are read")


def read_safe_pickle(path: str | Path) -> Any:
    """A pickle of plain containers, strings and numbers; anything that names a class or function (and so could
    run code) is refused with a ValueError naming the file."""
    path = Path(path)
    try:
        return _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError, TypeError) as e:
        raise ValueError(f"{path}: not a plain pickle ({e})") from None


class WordVectorizer:
    """word/POS tokens -> (300-d vector, 15-d one-hot), from the evaluator's GloVe vocabulary."""

    def __init__(self, vectors: np.ndarray, words: Sequence[str], index: dict[str, int]) -> None:
        if "unk" not in index:
            raise ValueError("the vocabulary has no 'unk' word, which unknown words take")
        self.word2vec = {w: vectors[index[w]] for w in words}
        self.dim = int(vectors.shape[1])

    @staticmethod
    def files(folder: str | Path, prefix: str = "our_vab") -> list[Path]:
        """The vocabulary's three files in a folder."""
        return [Path(folder) / f"{prefix}_{part}" for part in ("data.npy", "words.pkl", "idx.pkl")]

    @classmethod
    def from_folder(cls, folder: str | Path, prefix: str = "our_vab") -> WordVectorizer:
        """The vocabulary files `{prefix}_data.npy`, `{prefix}_words.pkl`, `{prefix}_idx.pkl` of a folder."""
        folder = Path(folder)
        paths = cls.files(folder, prefix)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"the evaluator's word vectors are incomplete: missing {', '.join(missing)}")
        try:
            vectors = np.load(paths[0], allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ValueError(f"{paths[0]}: not a readable .npy array ({e})") from None
        words, index = read_safe_pickle(paths[1]), read_safe_pickle(paths[2])
        if vectors.ndim != 2 or not isinstance(words, list) or not isinstance(index, dict):
            raise ValueError(
                f"{folder}: expected a (V, D) array, a list of words and a dict word -> row, got {vectors.shape}, "
                f"{type(words).__name__}, {type(index).__name__}"
            )
        bad = [w for w in words if not isinstance(index.get(w), int) or not 0 <= index[w] < len(vectors)]
        if bad:
            raise ValueError(f"{paths[2]}: {len(bad)} words have no row of {paths[0].name} (e.g. {bad[0]!r})")
        return cls(vectors, words, index)

    @staticmethod
    def one_hot(pos: str) -> np.ndarray:
        vec = np.zeros(len(POS))
        vec[POS.index(pos) if pos in POS else POS.index("OTHER")] = 1
        return vec

    def __getitem__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        word, pos = token.split("/")
        if word not in self.word2vec:
            return self.word2vec["unk"], self.one_hot("OTHER")
        special = next((key for key, words in SPECIAL_WORDS.items() if word in words), None)
        return self.word2vec[word], self.one_hot(special or pos)

    def encode(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """A caption's tokens -> (22, D) vectors, (22, 15) one-hots, and its length (start and end included)."""
        padded, length = caption_tokens(tokens)
        pairs = [self[t] for t in padded]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), length


def caption_tokens(tokens: Sequence[str], max_len: int = MAX_TEXT_LEN) -> tuple[list[str], int]:
    """The evaluator's 22 positions: start token, at most `max_len` words, end token, then 'unk' padding; and the
    length it reads (words + 2)."""
    bad = [t for t in tokens if not isinstance(t, str) or t.count("/") != 1]
    if bad:
        raise ValueError(f"tokens must be 'word/POS' strings, got {bad[:3]}")
    words = list(tokens[:max_len])
    padded = ["sos/OTHER", *words, "eos/OTHER"]
    length = len(padded)
    return padded + ["unk/OTHER"] * (max_len + 2 - length), length


def tag_caption(text: str, model: str = "en_core_web_sm") -> list[str]:
    """A free caption -> HumanML3D's `word/POS` tokens, made the way its text files were: hyphens removed, tagged
    by spaCy's `model`, words that are not alphabetic dropped, nouns and verbs as their lemma (except "left"), each
    with its universal part-of-speech tag. Needs spaCy and the model, which the library does not install."""
    try:
        import spacy
    except ImportError:
        raise ImportError(
            "tagging free captions needs spaCy and its English model: pip install spacy && python -m spacy download "
            f"{model} (HumanML3D's own text files carry their tokens already)"
        ) from None
    try:
        nlp = _SPACY.get(model) or _SPACY.setdefault(model, spacy.load(model))
    except OSError:
        raise ImportError(f"spaCy has no model {model!r}: python -m spacy download {model}") from None
    tokens = []
    for token in nlp(text.replace("-", "")):
        if not token.text.isalpha():
            continue
        word = token.lemma_ if token.pos_ in ("NOUN", "VERB") and token.text != "left" else token.text
        tokens.append(f"{word}/{token.pos_}")
    return tokens


_SPACY: dict[str, Any] = {}
