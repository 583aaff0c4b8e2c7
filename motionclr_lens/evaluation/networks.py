"""The text-to-motion evaluator's three networks (Guo et al. 2022, "Generating Diverse and Natural 3D Human
Motions from Text"), as MotionCLR's evaluation builds them; parameter names follow the released `finest.tar`.

A motion (B, 196, 259: normalised features without the foot contacts) becomes movement tokens every 4 frames
(two stride-2 convolutions), then one vector from a bidirectional GRU over its valid tokens; a caption (22 tokens of
300-d word vectors plus a projected 15-way part-of-speech one-hot) becomes one vector the same way. Matching
captions and motions lie close in the shared 512-d space.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["BiGRUEncoder", "MotionEncoder", "MovementEncoder", "TextEncoder"]

SLOPE = 0.2  # every LeakyReLU of the evaluator


class MovementEncoder(nn.Module):
    """(B, T, C_in) features -> (B, T // 4, C_out) movement tokens: two kernel-4 stride-2 convolutions with
    LeakyReLU (dropout between them is a no-op at evaluation), then a linear layer per token."""

    def __init__(self, input_size: int = 259, hidden_size: int = 512, output_size: int = 512) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv1d(input_size, hidden_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(SLOPE),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(SLOPE),
        )
        self.out_net = nn.Linear(output_size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.out_net(self.main(x.transpose(1, 2)).transpose(1, 2))


class BiGRUEncoder(nn.Module):
    """A bidirectional GRU from a learned initial state over the first `lengths[i]` steps of each row (packed: the
    padding is never read); the two directions' last states, forward then backward, through
    Linear -> LayerNorm -> LeakyReLU -> Linear. Lengths must not increase down the batch (the original packs them
    as sorted)."""

    def __init__(self, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = nn.Sequential(
            nn.Linear(2 * hidden_size, hidden_size),
            nn.LayerNorm(hidden_size),
            nn.LeakyReLU(SLOPE),
            nn.Linear(hidden_size, output_size),
        )
        self.hidden = nn.Parameter(torch.zeros(2, 1, hidden_size))  # (directions, 1, H), loaded from the file

    def summarise(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x: (B, S, H) embedded steps; lengths: (B,) valid steps, non-increasing -> (B, output_size)."""
        packed = pack_padded_sequence(x, lengths.cpu().tolist(), batch_first=True)
        _, last = self.gru(packed, self.hidden.expand(-1, x.shape[0], -1).contiguous())  # last: (2, B, H)
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class TextEncoder(BiGRUEncoder):
    """(B, 22, 300) word vectors + (B, 22, 15) part-of-speech one-hots -> (B, 512): the one-hot projected to the
    word space and added, embedded, then the BiGRU over `lengths` tokens (start and end tokens included)."""

    def __init__(self, word_size: int = 300, pos_size: int = 15, hidden_size: int = 512, output_size: int = 512):
        super().__init__(hidden_size, output_size)
        self.pos_emb = nn.Linear(pos_size, word_size)
        self.input_emb = nn.Linear(word_size, hidden_size)

    def forward(self, words: Tensor, pos: Tensor, lengths: Tensor) -> Tensor:
        return self.summarise(self.input_emb(words + self.pos_emb(pos)), lengths)


class MotionEncoder(BiGRUEncoder):
    """(B, T // 4, 512) movement tokens -> (B, 512): embedded, then the BiGRU over `lengths` tokens."""

    def __init__(self, input_size: int = 512, hidden_size: int = 1024, output_size: int = 512) -> None:
        super().__init__(hidden_size, output_size)
        self.input_emb = nn.Linear(input_size, hidden_size)

    def forward(self, movements: Tensor, lengths: Tensor) -> Tensor:
        return self.summarise(self.input_emb(movements), lengths)
