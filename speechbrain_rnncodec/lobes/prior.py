"""A recurrent prior over token frames, the learned probability model of
the entropy coder.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch


class TokenPrior(torch.nn.Module):
    """A GRU over the token frames of a packet predicts the next frame.

    The input of step t is the sum of the embeddings of the K codes of
    frame t - 1 (a learned start vector at t = 0); the GRU state goes
    through a low-rank head to logits over the codes of the first
    ``modelled_codebooks`` codebooks of frame t (the codebooks of a frame
    are predicted independently of each other). Later codebooks, whose
    codes are nearly uniform, are left to a context-free model.

    Arguments
    ---------
    num_codebooks : int
        Codebooks K per frame (context).
    codebook_size : int
        Codes C per codebook.
    modelled_codebooks : int
        Codebooks predicted (M <= K).
    embedding_dim : int
        Size of the code embeddings.
    hidden_size : int
        GRU width.
    rank : int
        Size of the per-codebook bottleneck of the head.

    Example
    -------
    >>> prior = TokenPrior(num_codebooks=3, codebook_size=16, modelled_codebooks=2,
    ...                    embedding_dim=8, hidden_size=12, rank=4)
    >>> tokens = torch.randint(0, 16, (2, 5, 3))
    >>> logits = prior(tokens)
    >>> logits.shape
    torch.Size([2, 5, 2, 16])
    """

    def __init__(
        self,
        num_codebooks=12,
        codebook_size=1024,
        modelled_codebooks=4,
        embedding_dim=128,
        hidden_size=256,
        rank=64,
    ):
        super().__init__()
        if not 1 <= modelled_codebooks <= num_codebooks:
            raise ValueError("modelled_codebooks must be in 1..num_codebooks")
        self.num_codebooks = num_codebooks
        self.codebook_size = codebook_size
        self.modelled_codebooks = modelled_codebooks
        self.embedding = torch.nn.Embedding(
            num_codebooks * codebook_size, embedding_dim
        )
        self.start = torch.nn.Parameter(torch.zeros(embedding_dim))
        self.cell = torch.nn.GRUCell(embedding_dim, hidden_size)
        self.project = torch.nn.Linear(hidden_size, modelled_codebooks * rank)
        self.output = torch.nn.Parameter(
            torch.randn(modelled_codebooks, rank, codebook_size) * rank**-0.5
        )
        self.output_bias = torch.nn.Parameter(
            torch.zeros(modelled_codebooks, codebook_size)
        )
        offsets = torch.arange(num_codebooks) * codebook_size
        self.register_buffer("offsets", offsets, persistent=False)

    def _inputs(self, previous):
        """Summed code embeddings [..., E] of frames [..., K]."""
        return self.embedding(previous[..., : self.num_codebooks] + self.offsets).sum(
            -2
        )

    def _logits(self, hidden):
        """Logits [..., M, C] of GRU states [..., H]."""
        low = self.project(hidden).unflatten(-1, (self.modelled_codebooks, -1))
        return torch.einsum("...mr,mrc->...mc", low, self.output) + self.output_bias

    def forward(self, tokens):
        """Logits [B, T, M, C] of each frame of packets [B, T, K] given the
        frames before it in the packet (teacher forcing, for training)."""
        batch, steps, _ = tokens.shape
        inputs = self._inputs(tokens[:, :-1])
        inputs = torch.cat([self.start.expand(batch, 1, -1), inputs], dim=1)
        hidden, states = None, []
        for t in range(steps):
            hidden = self.cell(inputs[:, t], hidden)
            states.append(hidden)
        return self._logits(torch.stack(states, dim=1))
