"""The learned entropy model: a trained
:class:`~speechbrain_rnncodec.lobes.prior.TokenPrior` run in NumPy, frame
by frame, inside each packet.

The encoder and the decoder run the same code on the same weights, one
frame at a time, so they must compute the same tables to the last bit, on
any CPU: a table that differs in one probability makes the range decoder
read garbage. Floating-point matrix products do not promise that (BLAS
sums in an order that depends on the CPU's vector units), so the model
runs in exact fixed point (``prior2-`` ids): weights, embeddings, gates
and the hidden state are integers (units of 2**-12) held in float64, every
product and sum is an integer below 2**53 (checked when the weights are
loaded), so the matrix products are exact in any order, and the
nonlinearities and the softmax's exponential are tables indexed by those
integers. The only floating-point steps left are elementwise IEEE
divisions and products, correctly rounded everywhere.

The weights live in ``token_prior.npz`` (plain float arrays and a JSON
document, loaded without pickle); the fixed-point weights are rounded from
them at load time. Codebooks beyond the prior's ``modelled_codebooks`` are
coded uniformly. Files coded by the float32 arithmetic of earlier releases
(``prior1-`` ids) still decode with it, on the kind of CPU that wrote them.
The id written in file headers is ``prior2-`` (``prior1-``) and the first
16 hex digits of the SHA-256 of the arrays.

Authors
 * speechbrain_rnncodec team 2026
"""

import hashlib
import json
import pathlib
import zipfile

import numpy as np

from speechbrain_rnncodec.entropy.coding import (
    EntropyError,
    EntropyModel,
    Lockstep,
    OnePacket,
    PacketContext,
)
from speechbrain_rnncodec.entropy.fixed_point import FixedPointPrior
from speechbrain_rnncodec.utils.atomic import atomic_open

PRIOR_FILE = "token_prior.npz"
PRIOR_FORMAT = "rnncodec-token-prior"
PRIOR_VERSION = 1
# The arrays of token_prior.npz (in this order: the model id hashes them),
# each with the state-dict key of the TokenPrior weight it holds.
_STATE_KEYS = {
    "embedding": "embedding.weight",
    "start": "start",
    "weight_ih": "cell.weight_ih",
    "weight_hh": "cell.weight_hh",
    "bias_ih": "cell.bias_ih",
    "bias_hh": "cell.bias_hh",
    "project_weight": "project.weight",
    "project_bias": "project.bias",
    "output": "output",
    "output_bias": "output_bias",
}
_ARRAYS = tuple(_STATE_KEYS)
# Those of a two-level head (``code_groups`` in the meta), hashed after them.
_GROUP_KEYS = {
    "group_output": "group_output",
    "group_output_bias": "group_output_bias",
    "code_order": "code_order",
}
_MAX_BYTES = 64 * 2**20


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _probabilities(exp_logits, model):
    """Rows of (unnormalised) exponentials -> probabilities with the floor.

    A floor keeps every code codable whatever the prior believes.
    """
    probs = np.divide(exp_logits, exp_logits.sum(axis=1, keepdims=True))
    probs *= 1.0 - model.floor
    probs += model.floor / exp_logits.shape[1]
    return probs


def _embedded(model, embedding, codes):
    """The GRU inputs [..., E] of frames of codes [..., K] (``embedding``:
    the model's, in the context's arithmetic)."""
    # The prior reads as many codebooks as the packet has (bitrate).
    codes = np.asarray(codes, dtype=np.int64)[..., : model.num_codebooks]
    return embedding[codes + model.offsets[: codes.shape[-1]]].sum(axis=-2)


class _FloatContext(PacketContext):
    """The float32 arithmetic of ``prior1-`` files (CPU-dependent)."""

    def __init__(self, model, num_codebooks):
        self.model = model
        self.hidden = np.zeros(model.hidden_size, dtype=np.float32)
        self.rows = min(num_codebooks, model.modelled)
        self.inputs, self.embedding = model.w["start"], model.w["embedding"]

    def next_tables(self):
        w, m = self.model.w, self.model
        h = self.hidden
        gi = w["weight_ih"] @ self.inputs + w["bias_ih"]
        gh = w["weight_hh"] @ h + w["bias_hh"]
        size = m.hidden_size
        r = _sigmoid(gi[:size] + gh[:size])
        z = _sigmoid(gi[size : 2 * size] + gh[size : 2 * size])
        n = np.tanh(gi[2 * size :] + r * gh[2 * size :])
        self.hidden = (1.0 - z) * n + z * h
        low = w["project_weight"] @ self.hidden + w["project_bias"]
        low = low.reshape(m.modelled, 1, -1)[: self.rows]
        logits = np.matmul(low, w["output"][: self.rows])[:, 0]
        logits += w["output_bias"][: self.rows]
        logits -= logits.max(axis=1, keepdims=True)
        return _probabilities(np.exp(logits).astype(np.float64), m)

    def update(self, codes):
        self.inputs = _embedded(self.model, self.embedding, codes)


class _ExactLockstep(Lockstep):
    """The same GRU in exact fixed point (:class:`FixedPointPrior`), for
    ``count`` packets side by side (one row of the state each).

    Every sum is exact, so the tables do not depend on how many packets
    or frames share a matrix product: the input projections and the
    output heads of packets whose codes are known run on all their frames
    at once (:meth:`packet_tables`), and the tables are those of one
    packet's frame-by-frame loop, to the last bit.
    """

    def __init__(self, model, num_codebooks, count):
        self.model = model
        self.rows = min(num_codebooks, model.modelled)
        self.hidden = np.zeros((count, model.hidden_size))
        self.inputs = np.tile(model.q.start, (count, 1))

    def _step(self, gi):
        """The hidden states [count, H] after one frame whose input
        projections are gi [count, 3H]."""
        q, size, h = self.model.q, self.model.hidden_size, self.hidden
        gh = h @ q.weight_hh_t + q.bias_hh
        gates = q.sigmoid(gi[:, : 2 * size] + gh[:, : 2 * size])
        r, z = gates[:, :size], gates[:, size:]
        n = q.tanh(gi[:, 2 * size :] + q.rescale(r * gh[:, 2 * size :]))
        # (1 - z) n + z h, in units of 2**-24 before the rescale: n is whole
        # in units of 2**-12, so only z (h - n) needs rounding down.
        self.hidden = n + q.rescale(z * (h - n))
        return self.hidden

    def _low(self, hidden):
        """Each head's low-rank input and a one (its bias row) [N, rows, R
        + 1] of hidden states [N, H]."""
        q, m = self.model.q, self.model
        low = q.rescale(hidden @ q.project_weight_t + q.project_bias)
        low = low.reshape(len(hidden), m.modelled, -1)[:, : self.rows]
        return np.concatenate([low, np.ones_like(low[..., :1])], axis=-1)

    def _normalised(self, logits):
        """Probabilities of logits [..., n] in cells: each row's depths
        below its largest logit (exact, in place), their exponentials, the
        floor."""
        np.subtract(logits.max(axis=-1, keepdims=True), logits, out=logits)
        exps = self.model.q.exp_below(logits)
        width = exps.shape[-1]
        return _probabilities(exps.reshape(-1, width), self.model).reshape(exps.shape)

    def _tables(self, hidden):
        """Tables [N, rows, C] of hidden states [N, H]."""
        q, low = self.model.q, self._low(hidden)
        logits = np.empty((len(hidden), self.rows, self.model.codebook_size))
        for k in range(self.rows):
            np.matmul(low[:, k], q.output_in_cells[k], out=logits[:, k])
        return self._normalised(logits)

    def _next_hidden(self):
        """Steps the GRU over the last frame's input: states [count, H]."""
        q = self.model.q
        return self._step(self.inputs @ q.weight_ih_t + q.bias_ih)

    def next_tables(self):
        return self._tables(self._next_hidden())

    def update(self, codes):
        self.inputs = _embedded(self.model, self.model.q.embedding, codes)

    def _packet_states(self, packets):
        """The hidden states [count, n, H] of every frame of each packet
        (codes [n_p, K] each, all known) and the frame counts."""
        q = self.model.q
        frames = [len(codes) for codes in packets]
        longest = max(frames, default=0)
        # Every packet's inputs, padded to the longest (the padding's
        # states are never used).
        inputs = np.zeros((len(packets), longest + 1, len(q.start)))
        inputs[:, 0] = self.inputs
        for p, codes in enumerate(packets):
            if len(codes):
                inputs[p, 1 : len(codes) + 1] = _embedded(
                    self.model, q.embedding, codes
                )
        gi = inputs[:, :longest] @ q.weight_ih_t + q.bias_ih
        hidden = np.empty((len(packets), longest, self.model.hidden_size))
        for t in range(longest):
            hidden[:, t] = self._step(gi[:, t])
        self.inputs = inputs[np.arange(len(packets)), frames]
        return hidden, frames

    def packet_tables(self, packets):
        hidden, frames = self._packet_states(packets)
        return [self._tables(hidden[p, :n]) if n else [] for p, n in enumerate(frames)]


class _GroupedLockstep(_ExactLockstep):
    """:class:`_ExactLockstep` of a two-level head, which the coder uses in
    two steps per frame (:meth:`next_group_tables`, then
    :meth:`member_tables` of the groups it read): G + C / G probabilities
    per code instead of C. :meth:`next_tables` still gives the whole [rows,
    C] tables (token generation, loss concealment)."""

    def _group_tables(self, low):
        """Group probabilities [N, rows, G] of head inputs [N, rows, R + 1]."""
        weights = self.model.q.group_output_in_cells[: self.rows]
        logits = np.matmul(low.transpose(1, 0, 2), weights).transpose(1, 0, 2)
        return self._normalised(logits)

    def _member_tables(self, low, groups):
        """Member probabilities [N, rows, C / G] of head inputs [N, rows, R +
        1] in groups [N, rows]."""
        weights = self.model.q.output_in_places  # [M, G, C / G, R + 1]
        rows = np.arange(groups.shape[1])
        picked = weights[rows[None, :], groups]  # [N, rows, C / G, R + 1]
        return self._normalised(np.matmul(picked, low[..., None])[..., 0])

    def _tables(self, hidden):
        low = self._low(hidden)
        groups = self._group_tables(low)
        weights = self.model.q.output_in_places[: self.rows]
        places = np.einsum("nkr,kgsr->nkgs", low, weights)
        members = self._normalised(places)
        whole = (groups[..., None] * members).reshape(len(hidden), self.rows, -1)
        # From the order of places back to that of codes.
        order = self.model.code_order[: self.rows]
        tables = np.empty_like(whole)
        tables[:, np.arange(self.rows)[:, None], order] = whole
        return tables

    def next_group_tables(self):
        """Each packet's group tables [rows, G] of the next frame."""
        self.low = self._low(self._next_hidden())
        return self._group_tables(self.low)

    def member_tables(self, groups):
        """Each packet's member tables [rows, C / G] of the frame whose
        groups [count, rows] were just read."""
        return self._member_tables(self.low, np.asarray(groups))

    def join(self, groups, members):
        """Codes [count, rows] of each packet's groups and members."""
        return self.model.join(groups, members)

    def packet_group_tables(self, packets):
        """The encoder's side: per packet (groups [n, rows], their tables
        [n, rows, G], members [n, rows], their tables [n, rows, C / G])."""
        hidden, frames = self._packet_states(packets)
        out = []
        for codes, (p, n) in zip(packets, enumerate(frames), strict=True):
            if not n:
                out.append(None)
                continue
            groups, members = self.model.split(codes[:, : self.rows])
            low = self._low(hidden[p, :n])
            out.append(
                (
                    groups,
                    self._group_tables(low),
                    members,
                    self._member_tables(low, groups),
                )
            )
        return out


class LearnedPriorModel(EntropyModel):
    """The NumPy entropy model of a trained :class:`TokenPrior`.

    Arguments
    ---------
    arrays : dict
        Float arrays named as in :func:`prior_arrays`.
    meta : dict
        ``num_codebooks``, ``codebook_size``, ``modelled_codebooks`` and
        anything else to keep (codec hash, training data, bits measured).
    floor : float
        Weight of the uniform distribution mixed into each prediction.
    arithmetic : str
        ``exact`` (fixed point, the same tables on every CPU; ``prior2-``
        ids) or ``float32`` (``prior1-`` files of earlier releases).
    """

    _CONTEXTS = {
        "exact": ("prior2", _ExactLockstep),
        "float32": ("prior1", _FloatContext),
    }

    def __init__(self, arrays, meta, floor=1e-4, arithmetic="exact"):
        try:
            self.num_codebooks = int(meta["num_codebooks"])
            self.codebook_size = int(meta["codebook_size"])
            self.modelled = int(meta["modelled_codebooks"])
            self.code_groups = meta.get("code_groups") and int(meta["code_groups"])
        except (KeyError, TypeError, ValueError) as err:
            raise EntropyError(f"token prior meta is incomplete: {err}") from err
        names = _ARRAYS + (tuple(_GROUP_KEYS) if self.code_groups else ())
        missing = [k for k in names if k not in arrays]
        if missing:
            raise EntropyError(f"token prior lacks arrays {missing}")
        self.w = {k: np.asarray(arrays[k], dtype=np.float32) for k in names}
        if not all(np.all(np.isfinite(v)) for v in self.w.values()):
            raise EntropyError("token prior holds non-finite weights")
        self.hidden_size = self.w["weight_hh"].shape[1]
        shapes_ok = (
            self.w["embedding"].shape[0] == self.num_codebooks * self.codebook_size
            and self.w["output"].shape[0] == self.modelled
            and self.w["output"].shape[2] == self.codebook_size
            and self.w["weight_ih"].shape
            == (3 * self.hidden_size, len(self.w["start"]))
        )
        if self.code_groups:
            self.code_order = self.w["code_order"].astype(np.int64)
            self.code_place = np.argsort(self.code_order, axis=1)
            shapes_ok = (
                shapes_ok
                and self.codebook_size % self.code_groups == 0
                and self.w["group_output"].shape[::2]
                == (self.modelled, self.code_groups)
                and (np.sort(self.code_order) == np.arange(self.codebook_size)).all()
            )
            if arithmetic != "exact":
                raise EntropyError("a two-level token prior runs in exact arithmetic")
        if not shapes_ok:
            raise EntropyError("token prior arrays do not fit its meta")
        self.meta = dict(meta)
        self.floor = floor
        self.offsets = np.arange(self.num_codebooks) * self.codebook_size
        digest = hashlib.sha256(f"{floor!r}".encode())
        for name in names:
            digest.update(name.encode() + np.ascontiguousarray(self.w[name]).tobytes())
        self.digest, self.arithmetic = digest.hexdigest()[:16], arithmetic
        prefix, self._context = self._CONTEXTS[arithmetic]
        self.model_id = f"{prefix}-{self.digest}"
        if arithmetic == "exact":
            try:
                self.q = FixedPointPrior(self.w, self.num_codebooks)
            except ValueError as err:
                raise EntropyError(str(err)) from err

    def split(self, codes):
        """Groups and members [n, rows] of the codes [n, rows] of the first
        modelled codebooks (two-level heads)."""
        codes = np.asarray(codes, dtype=np.int64)
        rows = np.arange(codes.shape[1])
        places = self.code_place[rows, codes]
        return np.divmod(places, self.codebook_size // self.code_groups)

    def join(self, groups, members):
        """Inverse of :meth:`split`: codes [n, rows]."""
        groups, members = np.asarray(groups), np.asarray(members)
        places = groups * (self.codebook_size // self.code_groups) + members
        return self.code_order[np.arange(groups.shape[-1]), places]

    def ids(self):
        """The ids this model decodes: its own and its other arithmetic's
        (two-level heads have only the exact one)."""
        if self.code_groups:
            return {self.model_id: "exact"}
        return {
            f"{prefix}-{self.digest}": name
            for name, (prefix, _) in self._CONTEXTS.items()
        }

    def with_arithmetic(self, arithmetic):
        """The same weights in ``arithmetic`` (``exact``, ``float32``):
        this model itself where it already runs in it."""
        if arithmetic == self.arithmetic:
            return self
        return LearnedPriorModel(self.w, self.meta, self.floor, arithmetic)

    def start_packet(self, num_codebooks):
        if self.arithmetic == "exact":
            return OnePacket(self.start_packets(num_codebooks, 1))
        return self._context(self, num_codebooks)

    def start_packets(self, num_codebooks, count):
        if self.code_groups:
            return _GroupedLockstep(self, num_codebooks, count)
        if self.arithmetic == "exact":
            return self._context(self, num_codebooks, count)
        return super().start_packets(num_codebooks, count)

    def save(self, path):
        """Writes ``token_prior.npz`` (temp file, then rename)."""
        path = pathlib.Path(path)
        doc = dict(self.meta, format=PRIOR_FORMAT, version=PRIOR_VERSION)
        doc["id"], doc["floor"] = self.model_id, self.floor
        meta = np.frombuffer(json.dumps(doc, sort_keys=True).encode(), dtype=np.uint8)
        with atomic_open(path) as fout:
            np.savez(fout, meta=meta, **self.w)
        return path

    @classmethod
    def load(cls, path):
        """Reads ``token_prior.npz``; :class:`EntropyError` if invalid."""
        path = pathlib.Path(path)
        try:
            if path.stat().st_size > _MAX_BYTES:
                raise EntropyError(f"{path} is too large for a token prior")
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            doc = json.loads(arrays.pop("meta").tobytes().decode())
        except (
            OSError,
            ValueError,
            KeyError,
            UnicodeDecodeError,
            zipfile.BadZipFile,
        ) as err:
            raise EntropyError(f"{path} is not a token prior: {err}") from err
        if not isinstance(doc, dict) or doc.get("format") != PRIOR_FORMAT:
            raise EntropyError(f"{path} is not a {PRIOR_FORMAT} file")
        if doc.get("version") != PRIOR_VERSION:
            raise EntropyError(
                f"{path} has version {doc.get('version')!r}; "
                f"this rnncodec reads version {PRIOR_VERSION}"
            )
        floor = doc.pop("floor", 1e-4)
        meta = {k: v for k, v in doc.items() if k not in ("format", "version", "id")}
        model = cls(arrays, meta, floor)
        if doc.get("id") not in model.ids():
            raise EntropyError(
                f"{path}: id {doc.get('id')!r} does not match its weights"
            )
        return model


def prior_arrays(prior):
    """The arrays of a :class:`TokenPrior` for :class:`LearnedPriorModel`."""
    state = prior.state_dict()
    keys = dict(_STATE_KEYS, **(_GROUP_KEYS if prior.code_groups else {}))
    return {
        name: state[key].detach().cpu().float().numpy() for name, key in keys.items()
    }


def prior_state(model):
    """The :class:`TokenPrior` state dict (NumPy arrays) of a
    :class:`LearnedPriorModel`: a prior to train on from there (e.g. on the
    tokens of a fine-tuned codec).

    Example
    -------
    >>> import torch
    >>> from speechbrain_rnncodec.lobes.prior import TokenPrior
    >>> shape = dict(num_codebooks=2, codebook_size=8, embedding_dim=4,
    ...              hidden_size=4, rank=2, modelled_codebooks=2)
    >>> source, target = TokenPrior(**shape), TokenPrior(**shape)
    >>> state = prior_state(prior_model(source))
    >>> target.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    <All keys matched successfully>
    >>> bool(torch.equal(target.start, source.start))
    True
    """
    keys = dict(_STATE_KEYS, **(_GROUP_KEYS if model.code_groups else {}))
    return {key: model.w[name] for name, key in keys.items()}


def prior_model(prior, meta=None, floor=1e-4):
    """The :class:`LearnedPriorModel` of a trained :class:`TokenPrior`."""
    meta = dict(
        meta or {},
        num_codebooks=prior.num_codebooks,
        codebook_size=prior.codebook_size,
        modelled_codebooks=prior.modelled_codebooks,
    )
    if prior.code_groups:
        meta["code_groups"] = prior.code_groups
    return LearnedPriorModel(prior_arrays(prior), meta, floor)
