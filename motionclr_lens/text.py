"""Text side: the offline CLIP BPE tokenizer, word <-> token spans, and the CLIP text tower."""

from __future__ import annotations

import functools
import gzip
import html
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import ftfy
import regex
import torch
from transformers import CLIPTextConfig as HFCLIPTextConfig
from transformers import CLIPTextModel

from .config import ClipTextConfig

__all__ = [
    "WORD_PATTERN",
    "ClipTokenizer",
    "TokenizedPrompt",
    "UnknownWordError",
    "Word",
    "build_clip_text_model",
    "get_tokenizer",
]

logger = logging.getLogger(__name__)

START_ID = 49406
END_ID = 49407
PAD_ID = 0
CONTEXT_LENGTH = 77
_VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
# CLIP's pre-tokeniser: special tokens, English contractions, letter runs, single digits, other symbols.
_PIECE = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
_CACHED_PIECE = 64  # pieces of text longer than this are not kept in the BPE cache
_CUT_MARGIN = 4  # tokens encoded past the context before a long piece is cut
_QUOTED = 80  # characters of a prompt a warning quotes
# A word, for word-level attention: a run of letters, digits and inner apostrophes or hyphens.
WORD_PATTERN = regex.compile(r"[\p{L}\p{N}]+(?:['\-][\p{L}\p{N}]+)*")


@functools.cache
def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable character table (printable bytes map to themselves)."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def clean_text(text: str) -> str:
    """The original's cleaning: ftfy, HTML unescape (twice), collapse whitespace, lower case."""
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    text = regex.sub(r"\s+", " ", text).strip()
    return text.lower()


class UnknownWordError(ValueError, KeyError):
    """A word asked of a prompt that does not have it (a ValueError and a KeyError)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Word:
    """A word of a prompt and the context positions of its tokens (`tokens` includes the start token's offset)."""

    index: int
    text: str
    chars: tuple[int, int]
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class TokenizedPrompt:
    """One prompt after cleaning and BPE: ids in the 77-token context, and where each token and word sits."""

    prompt: str
    cleaned: str
    ids: tuple[int, ...]
    token_chars: tuple[tuple[int, int], ...]
    words: tuple[Word, ...]
    truncated: bool

    @property
    def num_tokens(self) -> int:
        """Tokens in the context, start and end tokens included."""
        return len(self.ids)

    def word(self, query: str | int) -> Word:
        """The word named by its text (first occurrence) or by its 0-based index."""
        if isinstance(query, int):
            if not 0 <= query < len(self.words):
                raise IndexError(
                    f"word index {query} out of range for {self.prompt!r}, which has {len(self.words)} words "
                    f"{[w.text for w in self.words]}"
                )
            return self.words[query]
        wanted = clean_text(query)
        for w in self.words:
            if w.text == wanted:
                return w
        raise UnknownWordError(
            f"word {query!r} is not in prompt {self.prompt!r}; its words are {[w.text for w in self.words]}"
        )


class ClipTokenizer:
    """CLIP's byte-level BPE (vocabulary 49408), offline, identical to the original `clip.tokenize`."""

    def __init__(self, vocab_gz: bytes | None = None) -> None:
        if vocab_gz is None:
            vocab_gz = resources.files("motionclr_lens.assets").joinpath(_VOCAB_FILE).read_bytes()
        lines = gzip.decompress(vocab_gz).decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
        byte_chars = list(_bytes_to_unicode().values())
        vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self.encoder: dict[str, int] = {tok: i for i, tok in enumerate(vocab)}
        self.decoder: dict[int, str] = {i: tok for tok, i in self.encoder.items()}
        self.bpe_ranks: dict[tuple[str, ...], int] = {m: i for i, m in enumerate(merges)}
        self._byte_encoder = _bytes_to_unicode()
        self._byte_decoder = {c: b for b, c in self._byte_encoder.items()}
        self._cache: dict[str, list[str]] = {
            "<|startoftext|>": ["<|startoftext|>"],
            "<|endoftext|>": ["<|endoftext|>"],
        }
        # the most characters one token covers: how far a cut piece can reach into the tokens kept
        self._longest = max(len(tok.removesuffix("</w>")) for tok in vocab[:-2])
        self.start_id = self.encoder["<|startoftext|>"]
        self.end_id = self.encoder["<|endoftext|>"]
        self.context_length = CONTEXT_LENGTH

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    def _bpe(self, piece: str) -> list[str]:
        if piece in self._cache:
            return self._cache[piece]
        symbols = [*list(piece[:-1]), piece[-1] + "</w>"]
        while len(symbols) > 1:
            pairs = {(a, b) for a, b in itertools.pairwise(symbols)}
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if best not in self.bpe_ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(symbols):
                if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        if len(piece) <= _CACHED_PIECE:
            self._cache[piece] = symbols
        return symbols

    def _encode_with_chars(
        self, cleaned: str, limit: int | None = None
    ) -> tuple[list[int], list[tuple[int, int]], bool]:
        """BPE ids of cleaned text, each with the character span of the text it came from, and whether text was
        left over. With a `limit`, encoding stops once it has more than `limit` ids, and a piece longer than the
        ids still wanted could fill is cut first (BPE is quadratic in a piece's length): the first `limit` ids
        are those of the whole text."""
        ids: list[int] = []
        chars: list[tuple[int, int]] = []
        for match in _PIECE.finditer(cleaned):
            if limit is not None and len(ids) > limit:
                return ids, chars, True
            piece = match.group()
            start = match.start()
            # Byte offsets inside the piece -> character offsets, so multi-byte characters map back.
            byte_to_char: list[int] = []
            for ci, ch in enumerate(piece):
                byte_to_char.extend([ci] * len(ch.encode("utf-8")))
            byte_to_char.append(len(piece))
            mapped = "".join(self._byte_encoder[b] for b in piece.encode("utf-8"))
            if limit is not None:
                # Tokens past the limit are dropped; a margin of tokens keeps the merges near the cut away from
                # the tokens kept.
                keep = (limit - len(ids) + 1 + _CUT_MARGIN) * self._longest
                mapped = mapped[:keep]
            pos = 0
            for tok in self._bpe(mapped):
                n = len(tok[:-4] if tok.endswith("</w>") else tok)
                ids.append(self.encoder[tok])
                chars.append((start + byte_to_char[pos], start + byte_to_char[pos + n]))
                pos += n
        return ids, chars, False

    def encode(self, text: str) -> list[int]:
        """BPE ids of a text, without start and end tokens."""
        return self._encode_with_chars(clean_text(text))[0]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of BPE ids (start, end and padding ids are skipped)."""
        skip = {PAD_ID, self.start_id, self.end_id}
        text = "".join(self.decoder[int(i)] for i in ids if int(i) not in skip).replace("</w>", " ")
        raw = bytearray(self._byte_decoder[c] if c in self._byte_decoder else ord(" ") for c in text)
        return raw.decode("utf-8", errors="replace").strip()

    def tokenize_prompt(self, prompt: str) -> TokenizedPrompt:
        """Ids of one prompt in the context (start + BPE + end, cut to 77 keeping the end id) and its words."""
        if not isinstance(prompt, str):
            raise TypeError(f"a prompt must be a str, got {type(prompt).__name__}: {prompt!r}")
        cleaned = clean_text(prompt)
        bpe_ids, bpe_chars, left_over = self._encode_with_chars(cleaned, limit=self.context_length - 2)
        ids = [self.start_id, *bpe_ids, self.end_id]
        token_chars = [(0, 0), *bpe_chars, (len(cleaned), len(cleaned))]
        truncated = left_over or len(ids) > self.context_length
        if truncated:
            ids = ids[: self.context_length]
            ids[-1] = self.end_id
            token_chars = token_chars[: self.context_length]
            token_chars[-1] = (len(cleaned), len(cleaned))
            shown = prompt if len(prompt) <= _QUOTED else prompt[:_QUOTED] + "..."
            logger.warning(
                "prompt %r has more tokens than fit, over the %d of CLIP's context: kept %r",
                shown,
                self.context_length,
                self.decode(ids[1:-1])[:_QUOTED],
            )
        # Content tokens are positions 1 .. len(ids) - 2; a word owns the tokens inside its characters.
        words: list[Word] = []
        for match in WORD_PATTERN.finditer(cleaned):
            a, b = match.span()
            toks = tuple(pos for pos in range(1, len(ids) - 1) if token_chars[pos][0] < b and token_chars[pos][1] > a)
            if toks:
                words.append(Word(index=len(words), text=match.group(), chars=(a, b), tokens=toks))
        return TokenizedPrompt(
            prompt=prompt,
            cleaned=cleaned,
            ids=tuple(ids),
            token_chars=tuple(token_chars),
            words=tuple(words),
            truncated=truncated,
        )

    def __call__(self, prompts: str | Sequence[str]) -> torch.Tensor:
        """(B, 77) int64 ids, zero padded: the original `clip.tokenize(prompts, truncate=True)`."""
        if isinstance(prompts, str):
            prompts = [prompts]
        out = torch.full((len(prompts), self.context_length), PAD_ID, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids = self.tokenize_prompt(prompt).ids
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out


@functools.cache
def get_tokenizer() -> ClipTokenizer:
    """The shared tokenizer with the vocabulary shipped in the package (built once, about 0.3 s)."""
    return ClipTokenizer()


def build_clip_text_model(config: ClipTextConfig) -> CLIPTextModel:
    """A transformers `CLIPTextModel` with the openai text tower's sizes (QuickGELU, causal, no projection)."""
    hf_config = HFCLIPTextConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.width,
        intermediate_size=config.ffn_dim,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        max_position_embeddings=config.context_length,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        attention_dropout=0.0,
        bos_token_id=START_ID,
        eos_token_id=END_ID,
        pad_token_id=PAD_ID,
    )
    hf_config._attn_implementation = "sdpa"
    return CLIPTextModel(hf_config)
