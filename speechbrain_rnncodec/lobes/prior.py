"""A recurrent prior over token frames, the learned probability model of
the entropy coder.

Authors
 * speechbrain_rnncodec team 2026
"""

import numpy as np
import torch


class TokenPrior(torch.nn.Module):
    """A GRU over the token frames of a packet predicts the next frame.

    The input of step t is the sum of the embeddings of the K codes of
    frame t - 1 (a learned start vector at t = 0); the GRU state goes
    through a low-rank head to logits over the codes of the first
    ``modelled_codebooks`` codebooks of frame t (the codebooks of a frame
    are predicted independently of each other). Later codebooks, whose
    codes are nearly uniform, are left to a context-free model.

    With ``code_groups`` G, a code's probability is that of its group
    times its share inside the group: a head of G logits picks the group,
    and the code logits of that group's C / G members pick the member, so
    a coder computes G + C / G logits per code instead of C (64 instead
    of 1024 for 32 groups of 32). Which codes share a group is the buffer
    ``code_order`` (place -> code; group = place // (C / G)), set by
    :meth:`group_codes` from the code logits' own weights.

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
    code_groups : int, optional
        Groups G of a two-level head (a power of two dividing C); None: one
        softmax over the C codes.

    Example
    -------
    >>> prior = TokenPrior(num_codebooks=3, codebook_size=16, modelled_codebooks=2,
    ...                    embedding_dim=8, hidden_size=12, rank=4)
    >>> tokens = torch.randint(0, 16, (2, 5, 3))
    >>> logits = prior(tokens)
    >>> logits.shape
    torch.Size([2, 5, 2, 16])
    >>> grouped = TokenPrior(num_codebooks=3, codebook_size=16, modelled_codebooks=2,
    ...                      embedding_dim=8, hidden_size=12, rank=4, code_groups=4)
    >>> grouped.group_codes()
    >>> torch.logsumexp(grouped(tokens), dim=-1).abs().max() < 1e-5  # log-probabilities
    tensor(True)
    """

    def __init__(
        self,
        num_codebooks=12,
        codebook_size=1024,
        modelled_codebooks=4,
        embedding_dim=128,
        hidden_size=256,
        rank=64,
        code_groups=None,
    ):
        super().__init__()
        if not 1 <= modelled_codebooks <= num_codebooks:
            raise ValueError("modelled_codebooks must be in 1..num_codebooks")
        if code_groups and (
            code_groups & (code_groups - 1) or codebook_size % code_groups
        ):
            raise ValueError("code_groups: a power of two dividing codebook_size")
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
        self.code_groups = code_groups
        if code_groups:
            self.group_output = torch.nn.Parameter(
                torch.randn(modelled_codebooks, rank, code_groups) * rank**-0.5
            )
            self.group_output_bias = torch.nn.Parameter(
                torch.zeros(modelled_codebooks, code_groups)
            )
            order = torch.arange(codebook_size).repeat(modelled_codebooks, 1)
            self.register_buffer("code_order", order)

    @torch.no_grad()
    def group_codes(self):
        """Groups the codes of each modelled codebook whose logits move
        together (:func:`balanced_groups` of their head weights) and starts
        the group head where each group's logit is its members' mean."""
        for m in range(self.modelled_codebooks):
            vectors = torch.cat([self.output[m], self.output_bias[m, None]]).T
            order = torch.from_numpy(
                balanced_groups(vectors.double().numpy(), self.code_groups)
            )
            self.code_order[m] = order
            members = self.output[m][:, order].unflatten(-1, (self.code_groups, -1))
            self.group_output[m] = members.mean(-1)
            bias = self.output_bias[m, order].view(self.code_groups, -1)
            self.group_output_bias[m] = torch.logsumexp(bias, dim=-1)

    @torch.no_grad()
    def start_from(self, state):
        """Copies the weights of a prior's ``state`` (arrays or tensors by
        state-dict key) whose shapes fit this one's, e.g. the embeddings
        and code head of a wider GRU's prior; a two-level head that the
        state lacks is grouped from the code head (:meth:`group_codes`).

        Returns
        -------
        list of str
            The entries left as they were (no fitting array in ``state``).
        """
        kept = []
        for name, value in self.state_dict().items():
            if name in state and tuple(state[name].shape) == tuple(value.shape):
                value.copy_(torch.as_tensor(state[name]))
            else:
                kept.append(name)
        if self.code_groups and "code_order" not in state:
            self.group_codes()
            kept = [name for name in kept if not name.startswith(("group_", "code_"))]
        return kept

    def _inputs(self, previous):
        """Summed code embeddings [..., E] of frames [..., K] (K <=
        ``num_codebooks``: a lower bitrate's frames have fewer codes)."""
        previous = previous[..., : self.num_codebooks]
        offsets = self.offsets[: previous.shape[-1]]
        return self.embedding(previous + offsets).sum(-2)

    def _logits(self, hidden):
        """Logits [..., M, C] of GRU states [..., H]."""
        low = self.project(hidden).unflatten(-1, (self.modelled_codebooks, -1))
        logits = torch.einsum("...mr,mrc->...mc", low, self.output) + self.output_bias
        if not self.code_groups:
            return logits
        groups = torch.einsum("...mr,mrg->...mg", low, self.group_output)
        groups = torch.log_softmax(groups + self.group_output_bias, dim=-1)
        # The codes in group order, each group's members' log-shares, and
        # back to code order: log-probabilities (logits of a softmax).
        order = self.code_order.expand(logits.shape)
        members = logits.gather(-1, order).unflatten(-1, (self.code_groups, -1))
        places = (torch.log_softmax(members, dim=-1) + groups[..., None]).flatten(-2)
        return torch.empty_like(places).scatter_(-1, order, places)

    def forward(self, tokens):
        """Logits [B, T, M, C] (log-probabilities with ``code_groups``) of
        each frame of packets [B, T, K] given the frames before it in the
        packet (teacher forcing, for training)."""
        batch, steps, _ = tokens.shape
        inputs = self._inputs(tokens[:, :-1])
        inputs = torch.cat([self.start.expand(batch, 1, -1), inputs], dim=1)
        hidden, states = None, []
        for t in range(steps):
            hidden = self.cell(inputs[:, t], hidden)
            states.append(hidden)
        return self._logits(torch.stack(states, dim=1))


def balanced_groups(vectors, groups):
    """An order of the rows of ``vectors`` [C, D] that cuts into ``groups``
    equal runs of similar rows: the rows are split at the median of their
    first principal component, then each half again, until there are
    ``groups`` runs (a power of two dividing C).

    Example
    -------
    >>> rows = np.array([[0.0], [5.0], [0.1], [5.1]])
    >>> sorted(balanced_groups(rows, 2)[:2].tolist())
    [0, 2]
    """

    def split(rows, parts):
        if parts == 1:
            return [rows]
        centred = vectors[rows] - vectors[rows].mean(axis=0)
        direction = np.linalg.svd(centred, full_matrices=False)[2][0]
        ranked = rows[np.argsort(centred @ direction, kind="stable")]
        half = len(rows) // 2
        return split(ranked[:half], parts // 2) + split(ranked[half:], parts // 2)

    return np.concatenate(split(np.arange(len(vectors)), groups))
