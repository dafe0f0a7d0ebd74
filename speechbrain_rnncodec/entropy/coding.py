"""Entropy coding of codec tokens: a range coder driven by a probability
model, lossless for every token stream.

The coder (:func:`encode_packet` / :func:`decode_packet`) codes the tokens
of one packet, frame after frame and, inside a frame, codebook 0 first,
with ``constriction``'s range coder (32-bit words, 24-bit probabilities).
Each symbol is coded with a probability table over the ``codebook_size``
codes that an :class:`EntropyModel` gives; the coder starts afresh at
every packet, so packets decode independently (the container can drop
or conceal one).

Models implement one interface, so a learned prior (an LSTM/GRU over the
previous frames of the packet) can replace the context-free ones later:

* :class:`EntropyModel` ``.start_packet(num_codebooks)`` returns a
  :class:`PacketContext`;
* :meth:`PacketContext.next_tables` gives the [K, C] probabilities of the
  next frame (one row per codebook), knowing the frames pushed so far
  through :meth:`PacketContext.update`.

Packets that are all at hand (a file, not a live stream) are coded side
by side, one frame of each at a time (:func:`encode_packets`,
:func:`decode_packets`): ``.start_packets(num_codebooks, count)`` gives a
:class:`Lockstep` (by default :class:`SeparateContexts`, one context per
packet), which a model whose context is costly
per call (the learned prior) replaces by one that serves all the packets
in each call. The bytes are those of coding each packet alone.

The encoder and the decoder must compute bit-identical tables; the model
is named in the file header by :attr:`EntropyModel.model_id`.

Two context-free models are built in: :class:`UniformModel` (every code
costs log2(codebook_size) bits, the raw token rate) and
:class:`FrequencyModel`, a categorical distribution per codebook index
estimated from tokens of training speech by :func:`fit_frequency_model`
and stored as JSON (``token_frequencies.json``).

Example
-------
>>> codes = np.array([[1, 2], [3, 1000]])
>>> data = encode_packet(codes, UniformModel(1024))
>>> len(data)  # 4 codes x 10 bits, in whole 32-bit words
8
>>> decode_packet(data, 2, 2, UniformModel(1024)).tolist()
[[1, 2], [3, 1000]]

Authors
 * speechbrain_rnncodec team 2026
"""

import abc
import hashlib
import json
import logging
import pathlib

import constriction
import numpy as np

from speechbrain_rnncodec.audio.io import AudioError
from speechbrain_rnncodec.utils.atomic import atomic_open
from speechbrain_rnncodec.utils.identity import model_fingerprint
from speechbrain_rnncodec.utils.threads import one_blas_thread

logger = logging.getLogger(__name__)

FREQUENCY_FILE = "token_frequencies.json"
FREQUENCY_FORMAT = "rnncodec-token-frequencies"
FREQUENCY_VERSION = 1
UNIFORM_ID = "uniform"
MAX_CODEBOOKS = 64
MAX_CODEBOOK_SIZE = 65536
DEFAULT_FLOOR = 1.0

# Probabilities are quantized by constriction (24 bits) the same way at
# both ends; perfect=False is the fast, documented, deterministic variant.
_FAMILY = constriction.stream.model.Categorical(perfect=False)


def _uniform(codebook_size):
    return constriction.stream.model.Uniform(int(codebook_size))


class EntropyError(ValueError):
    """Tokens or a frequency model that cannot be coded (message says why)."""


class PacketContext(abc.ABC):
    """The state of an :class:`EntropyModel` inside one packet."""

    @abc.abstractmethod
    def next_tables(self):
        """Probabilities [K', C] (float64, rows need not sum to one) of the
        first K' <= K codes of the next frame, given the frames passed to
        :meth:`update`; the other K - K' codes are coded uniformly."""

    def update(self, codes):  # noqa: B027 (optional: context-free models)
        """Records the codes [K] of the frame just coded (or decoded)."""
        return None

    def packet_tables(self, codes):
        """The tables of every frame of a packet whose codes [n, K] are all
        known (the encoder's side): what :meth:`next_tables` gives frame
        after frame with :meth:`update` between them, to the last bit. A
        model that can compute them at once overrides this loop."""
        tables = []
        for frame in codes:
            tables.append(self.next_tables())
            self.update(frame)
        return tables


class Lockstep(abc.ABC):
    """The state of an :class:`EntropyModel` in several packets coded side
    by side, one frame of each at a time."""

    @abc.abstractmethod
    def next_tables(self):
        """The next frame's tables of every packet (see
        :meth:`PacketContext.next_tables`)."""

    @abc.abstractmethod
    def update(self, codes):
        """Records the codes [count, K] of the frame just coded in each
        packet (rows of packets that have ended are ignored)."""

    @abc.abstractmethod
    def packet_tables(self, packets):
        """The tables of every frame of each packet (codes [n_p, K] each,
        all known: the encoder's side)."""


class SeparateContexts(Lockstep):
    """A :class:`Lockstep` of one :class:`PacketContext` per packet.

    Arguments
    ---------
    contexts : list of PacketContext
        One per packet.
    """

    def __init__(self, contexts):
        self.contexts = contexts

    def next_tables(self):
        return [context.next_tables() for context in self.contexts]

    def update(self, codes):
        for context, row in zip(self.contexts, codes, strict=True):
            context.update(row)

    def packet_tables(self, packets):
        return [
            context.packet_tables(codes)
            for context, codes in zip(self.contexts, packets, strict=True)
        ]


class OnePacket(PacketContext):
    """The :class:`PacketContext` of a lockstep context of one packet.

    Arguments
    ---------
    lockstep : Lockstep
        Context of a single packet.
    """

    def __init__(self, lockstep):
        self.lockstep = lockstep

    def next_tables(self):
        return self.lockstep.next_tables()[0]

    def update(self, codes):
        self.lockstep.update(np.asarray(codes)[None])

    def packet_tables(self, codes):
        return self.lockstep.packet_tables([codes])[0]


class EntropyModel(abc.ABC):
    """A probability model of tokens, frame by frame within a packet.

    Attributes
    ----------
    model_id : str
        Names the model in the file header (``uniform``, or a kind such as
        ``freq1`` or ``prior2``, a hyphen and 16 hex digits of a digest);
        files only decode with the model of the same id.
    codebook_size : int
        Codes per codebook (C).
    """

    model_id = None
    codebook_size = None
    # Two-level models (a learned prior with ``code_groups``) code each
    # modelled code as its group, then its member: their lockstep contexts
    # add ``next_group_tables``, ``member_tables``, ``join`` and
    # ``packet_group_tables`` (the coder's side; see :func:`decode_packets`).
    code_groups = None

    def column_sizes(self, num_codebooks):
        """The codes each of K columns may take (all ``codebook_size``)."""
        return [self.codebook_size] * num_codebooks

    @abc.abstractmethod
    def start_packet(self, num_codebooks):
        """A fresh :class:`PacketContext` for a packet of K codebooks."""

    def start_packets(self, num_codebooks, count):
        """A fresh :class:`Lockstep` context for ``count`` packets of K
        codebooks coded side by side."""
        return SeparateContexts(
            [self.start_packet(num_codebooks) for _ in range(count)]
        )


class _StaticContext(PacketContext):
    def __init__(self, tables):
        self.tables = tables

    def next_tables(self):
        return self.tables


class ContextFreeModel(EntropyModel):
    """A fixed categorical distribution per codebook index.

    Arguments
    ---------
    probabilities : numpy.ndarray
        [K_model, C] positive weights (rows are normalized); codebooks
        beyond K_model are coded uniformly.
    model_id : str
        The id written into headers.
    """

    def __init__(self, probabilities, model_id):
        probs = np.asarray(probabilities, dtype=np.float64)
        if probs.ndim != 2 or not np.all(np.isfinite(probs)) or np.any(probs <= 0):
            raise EntropyError("probabilities must be a [K, C] table of positives")
        self.probabilities = probs / probs.sum(axis=1, keepdims=True)
        self.codebook_size = probs.shape[1]
        self.model_id = model_id
        self._tables = {}

    def tables(self, num_codebooks):
        """Probabilities [num_codebooks, C]."""
        if num_codebooks not in self._tables:
            have = min(num_codebooks, len(self.probabilities))
            uniform = np.full(
                (num_codebooks - have, self.codebook_size), 1.0 / self.codebook_size
            )
            table = np.concatenate([self.probabilities[:have], uniform])
            self._tables[num_codebooks] = np.ascontiguousarray(table)
        return self._tables[num_codebooks]

    def start_packet(self, num_codebooks):
        return _StaticContext(self.tables(num_codebooks))

    def bits_per_code(self, codes):
        """Ideal cost in bits of codes [N, K] (without coder overhead)."""
        codes = np.asarray(codes)
        table = self.tables(codes.shape[1])
        picked = table[np.arange(codes.shape[1])[None, :], codes]
        return float(-np.log2(picked).sum() / max(codes.size, 1))


class _NarrowedLockstep(Lockstep):
    """Another :class:`Lockstep`'s tables, narrowed to column ``sizes``."""

    def __init__(self, lockstep, sizes, codebook_size):
        self.lockstep, self.sizes, self.codebook_size = lockstep, sizes, codebook_size

    def next_tables(self):
        return [self._narrow(tables) for tables in self.lockstep.next_tables()]

    def _narrow(self, tables):
        """Tables [..., K', C] narrowed to [..., K, C]."""
        tables = np.asarray(tables, dtype=np.float64)
        missing = len(self.sizes) - tables.shape[-2]
        if missing:  # the columns the model leaves to uniform coding
            ones = np.ones(tables.shape[:-2] + (missing, self.codebook_size))
            tables = np.concatenate([tables, ones], axis=-2)
        tables = tables / tables.sum(axis=-1, keepdims=True)
        for k, size in enumerate(self.sizes):
            if size < self.codebook_size:
                tables[..., k, size:] = 0.0
                tables[..., k, :] /= tables[..., k, :].sum(axis=-1, keepdims=True)
        return tables

    def update(self, codes):
        self.lockstep.update(codes)

    def packet_tables(self, packets):
        tables = self.lockstep.packet_tables(packets)
        return [self._narrow(packet) if len(packet) else [] for packet in tables]


class NarrowedColumns(EntropyModel):
    """An entropy model for a codec whose frames may narrow a column to
    codes 0 ... n - 1 (``last_column_codes`` of the residual VQ): the
    wrapped model's tables with zeros beyond those codes, renormalised,
    so that a narrowed column costs what its codes are worth (about
    log2(n) bits or less). Any code still decodes (the coder gives a
    zero probability a tiny one), so coding stays lossless.

    Arguments
    ---------
    inner : EntropyModel
        The model of full columns (its id is this model's id: the
        narrowing follows from the codec and the column count).
    column_sizes : callable
        K -> the codes each of the K columns may take.

    Example
    -------
    >>> model = NarrowedColumns(UniformModel(1024), lambda k: [1024] * (k - 1) + [64])
    >>> codes = np.array([[500, 2], [3, 63]] * 10)  # 20 x (10 + 10) or (10 + 6) bits
    >>> len(encode_packet(codes, UniformModel(1024))), len(encode_packet(codes, model))
    (52, 44)
    >>> data = encode_packet(codes, model)
    >>> np.array_equal(decode_packet(data, 20, 2, model), codes)
    True
    """

    def __init__(self, inner, column_sizes):
        self.inner, self.sizes_of = inner, column_sizes
        self.model_id, self.codebook_size = inner.model_id, inner.codebook_size
        self.code_groups = inner.code_groups

    def column_sizes(self, num_codebooks):
        return list(self.sizes_of(num_codebooks))

    def start_packet(self, num_codebooks):
        return OnePacket(self.start_packets(num_codebooks, 1))

    def start_packets(self, num_codebooks, count):
        lockstep = self.inner.start_packets(num_codebooks, count)
        sizes = self.column_sizes(num_codebooks)
        if min(sizes) >= self.codebook_size:
            return lockstep
        if self.code_groups:  # the coder narrows the uniform columns itself
            if min(sizes[: self.inner.modelled]) < self.codebook_size:
                raise EntropyError("a two-level prior cannot narrow its columns")
            return lockstep
        return _NarrowedLockstep(lockstep, sizes, self.codebook_size)


class UniformModel(ContextFreeModel):
    """Every code equally likely: log2(codebook_size) bits each.

    Arguments
    ---------
    codebook_size : int
        Codes per codebook.
    """

    def __init__(self, codebook_size):
        super().__init__(np.ones((1, int(codebook_size))), UNIFORM_ID)

    def tables(self, num_codebooks):
        if num_codebooks not in self._tables:
            self._tables[num_codebooks] = np.full(
                (num_codebooks, self.codebook_size), 1.0 / self.codebook_size
            )
        return self._tables[num_codebooks]


class FrequencyModel(ContextFreeModel):
    """Per-codebook code counts of training speech, plus a floor.

    The probability of code c in codebook k is
    ``(counts[k][c] + floor) / (sum(counts[k]) + floor * C)``: the floor
    (a pseudo-count) keeps every code codable. The id is ``freq1-`` and
    the first 16 hex digits of the SHA-256 of the canonical JSON of
    ``codebook_size``, ``floor`` and ``counts``.

    Arguments
    ---------
    counts : array-like
        Integer counts [K, C].
    floor : float
        Pseudo-count added to every code (> 0).
    meta : dict, optional
        Kept in the JSON (model id and hash, frames, files, ...).
    """

    def __init__(self, counts, floor=DEFAULT_FLOOR, meta=None):
        counts = np.asarray(counts)
        if (
            counts.ndim != 2
            or not 1 <= counts.shape[0] <= MAX_CODEBOOKS
            or not 2 <= counts.shape[1] <= MAX_CODEBOOK_SIZE
        ):
            raise EntropyError(
                f"counts must be [K <= {MAX_CODEBOOKS}, 2 <= C <= "
                f"{MAX_CODEBOOK_SIZE}], not {list(counts.shape)}"
            )
        if counts.dtype.kind not in "iu" or counts.min() < 0 or counts.max() >= 2**53:
            raise EntropyError("counts must be non-negative integers below 2**53")
        floor = float(floor)
        if not 0 < floor <= 1e6:
            raise EntropyError(f"floor must lie in (0, 1e6], not {floor}")
        self.counts = counts.astype(np.int64)
        self.floor = floor
        self.meta = dict(meta or {})
        canon = json.dumps(
            {
                "codebook_size": int(counts.shape[1]),
                "floor": floor,
                "counts": self.counts.tolist(),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = hashlib.sha256(canon.encode()).hexdigest()[:16]
        super().__init__(self.counts + floor, f"freq1-{digest}")

    def to_json(self):
        """The JSON document (str) of the model."""
        doc = {"format": FREQUENCY_FORMAT, "version": FREQUENCY_VERSION}
        doc.update(self.meta)
        doc.update(
            {
                "id": self.model_id,
                "codebook_size": self.codebook_size,
                "num_codebooks": len(self.counts),
                "floor": self.floor,
            }
        )
        fields = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in doc.items()]
        rows = ",\n".join(
            "  " + json.dumps(row, separators=(",", ":"))
            for row in self.counts.tolist()
        )
        return "\n".join(["{", *fields, ' "counts": [', rows, " ]", "}"]) + "\n"

    @classmethod
    def from_json(cls, text, name="frequency model"):
        """Parses :meth:`to_json`; raises :class:`EntropyError` if invalid."""
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
            raise EntropyError(f"{name} is not valid JSON: {err}") from err
        if not isinstance(doc, dict) or doc.get("format") != FREQUENCY_FORMAT:
            raise EntropyError(f"{name} is not a {FREQUENCY_FORMAT} file")
        if doc.get("version") != FREQUENCY_VERSION:
            raise EntropyError(
                f"{name} has version {doc.get('version')!r}; "
                f"this rnncodec reads version {FREQUENCY_VERSION}"
            )
        counts = doc.get("counts")
        if (
            not isinstance(counts, list)
            or not counts
            or not all(isinstance(row, list) for row in counts)
            or len({len(row) for row in counts}) != 1
            or not all(type(v) is int for row in counts for v in row)
        ):
            raise EntropyError(f"{name}: counts must be equal-length lists of ints")
        if doc.get("codebook_size") != len(counts[0]):
            raise EntropyError(f"{name}: codebook_size does not match the counts")
        floor = doc.get("floor", DEFAULT_FLOOR)
        if type(floor) not in (int, float):
            raise EntropyError(f"{name}: floor must be a number")
        meta = {
            k: v
            for k, v in doc.items()
            if k not in ("format", "version", "id", "counts", "floor")
            and k not in ("codebook_size", "num_codebooks")
        }
        try:
            model = cls(np.array(counts, dtype=np.int64), floor, meta)
        except OverflowError as err:
            raise EntropyError(f"{name}: counts too large") from err
        if "id" in doc and doc["id"] != model.model_id:
            raise EntropyError(f"{name}: id {doc['id']!r} does not match its counts")
        return model

    @classmethod
    def load(cls, path):
        """Reads a ``token_frequencies.json`` file."""
        path = pathlib.Path(path)
        try:
            text = path.read_bytes()
        except OSError as err:
            raise EntropyError(f"cannot read {path}: {err}") from err
        if len(text) > 64 * 2**20:
            raise EntropyError(f"{path} is too large for a frequency model")
        return cls.from_json(text, name=str(path))

    def save(self, path):
        """Writes the JSON to ``path`` (temp file in the same folder, then
        rename)."""
        path = pathlib.Path(path)
        with atomic_open(path, "w", encoding="utf-8") as fout:
            fout.write(self.to_json())
        return path


def _check_codes(codes, codebook_size):
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise EntropyError(f"codes must be [frames, codebooks], not {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        raise EntropyError(f"codes must lie in [0, {codebook_size})")
    return codes.astype(np.int32)


def encode_packet(codes, model):
    """Range-codes the codes [n, K] of one packet.

    Arguments
    ---------
    codes : array-like
        Integer codes [n, K] in [0, model.codebook_size).
    model : EntropyModel
        The probability model.

    Returns
    -------
    bytes
        The coder's 32-bit words (little-endian), trailing zero bytes
        removed (:func:`decode_packet` restores them).
    """
    return encode_packets([codes], model)[0]


def encode_packets(packets, model):
    """:func:`encode_packet` of several packets of K codebooks each, their
    tables computed side by side.

    Example
    -------
    >>> packets = [np.array([[1, 2], [3, 4]]), np.array([[5, 6]])]
    >>> data = encode_packets(packets, UniformModel(1024))
    >>> data == [encode_packet(codes, UniformModel(1024)) for codes in packets]
    True
    """
    packets = [_check_codes(codes, model.codebook_size) for codes in packets]
    if len({codes.shape[1] for codes in packets}) > 1:
        raise EntropyError("the packets must have the same number of codebooks")
    if not packets:
        return []
    uniform = _uniform(model.codebook_size)
    with one_blas_thread():
        context = model.start_packets(packets[0].shape[1], len(packets))
        if model.code_groups:
            coded = context.packet_group_tables(packets)
            rest = _uniform_runs(model.column_sizes(packets[0].shape[1]))
            return [
                _encode_two_level(codes, tables, rest)
                for codes, tables in zip(packets, coded, strict=True)
            ]
        packet_tables = context.packet_tables(packets)
    out = []
    for codes, tables_of in zip(packets, packet_tables, strict=True):
        encoder = constriction.stream.queue.RangeEncoder()
        for frame, tables in zip(codes, tables_of, strict=True):
            encoder.encode(frame[: len(tables)], _FAMILY, tables)
            if len(tables) < len(frame):
                encoder.encode(frame[len(tables) :], uniform)
        words = encoder.get_compressed()
        out.append(words.astype("<u4").tobytes().rstrip(b"\0"))
    return out


def _uniform_runs(sizes):
    """(first, end, family) of the runs of equal sizes among column sizes."""
    runs, first = [], 0
    for k in range(1, len(sizes) + 1):
        if k == len(sizes) or sizes[k] != sizes[first]:
            runs.append((first, k, _uniform(sizes[first])))
            first = k
    return runs


def _encode_two_level(codes, coded, rest):
    """One packet's codes [n, K] coded with a two-level model: per frame
    the groups, the members, then each run of uniform ``rest`` columns
    beyond the modelled ones."""
    if coded is None:  # no frames
        return b""
    groups, group_tables, members, member_tables = coded
    rows = groups.shape[1]
    encoder = constriction.stream.queue.RangeEncoder()
    groups, members = groups.astype(np.int32), members.astype(np.int32)
    for t, frame in enumerate(codes):
        encoder.encode(groups[t], _FAMILY, group_tables[t])
        encoder.encode(members[t], _FAMILY, member_tables[t])
        for first, end, family in rest:
            if end > rows:
                encoder.encode(frame[max(first, rows) : end], family)
    return encoder.get_compressed().astype("<u4").tobytes().rstrip(b"\0")


def _decode_two_level(decoders, frames, num_codebooks, model):
    """:func:`decode_packets` of a two-level model: per frame the groups of
    every packet, then their members and the uniform columns."""
    out = [np.empty((n, num_codebooks), dtype=np.int64) for n in frames]
    context = model.start_packets(num_codebooks, len(decoders))
    rest = _uniform_runs(model.column_sizes(num_codebooks))
    last = np.zeros((len(decoders), num_codebooks), dtype=np.int64)
    for t in range(max(frames, default=0)):
        live = [p for p, n in enumerate(frames) if t < n]
        group_tables = context.next_group_tables()
        rows = len(group_tables[0])
        groups = np.zeros((len(decoders), rows), dtype=np.int64)
        members = np.zeros_like(groups)
        for p in live:
            groups[p] = decoders[p].decode(_FAMILY, group_tables[p])
        member_tables = context.member_tables(groups)
        for p in live:
            members[p] = decoders[p].decode(_FAMILY, member_tables[p])
            for first, end, family in rest:
                if end > rows:
                    first = max(first, rows)
                    last[p, first:end] = decoders[p].decode(family, end - first)
        last[:, :rows] = context.join(groups, members)
        for p in live:
            out[p][t] = last[p]
        context.update(last)
    return out


def decode_packet(data, num_frames, num_codebooks, model):
    """Inverse of :func:`encode_packet`: codes [num_frames, num_codebooks].

    Arguments
    ---------
    data : bytes
        The coded packet.
    num_frames : int
        Frames it holds.
    num_codebooks : int
        Codebooks per frame.
    model : EntropyModel
        The model it was coded with.

    Returns
    -------
    numpy.ndarray
        Codes (int64).
    """
    return decode_packets([(data, num_frames)], num_codebooks, model)[0]


def decode_packets(packets, num_codebooks, model):
    """:func:`decode_packet` of several packets, decoded side by side (one
    frame of each at a time).

    Arguments
    ---------
    packets : list of (bytes, int)
        Each packet's data and frame count.
    num_codebooks : int
        Codebooks per frame.
    model : EntropyModel
        The model they were coded with.

    Returns
    -------
    list of numpy.ndarray
        Codes [num_frames, num_codebooks] (int64) per packet.

    Example
    -------
    >>> packets = [np.array([[1, 2], [3, 4]]), np.array([[5, 6]])]
    >>> data = encode_packets(packets, UniformModel(1024))
    >>> decoded = decode_packets(list(zip(data, [2, 1])), 2, UniformModel(1024))
    >>> [codes.tolist() for codes in decoded]
    [[[1, 2], [3, 4]], [[5, 6]]]
    """
    frames = [num_frames for _, num_frames in packets]
    out = [np.empty((n, num_codebooks), dtype=np.int64) for n in frames]
    uniform = _uniform(model.codebook_size)
    with one_blas_thread():
        try:
            decoders = [
                constriction.stream.queue.RangeDecoder(_words(data))
                for data, _ in packets
            ]
            if model.code_groups:
                return _decode_two_level(decoders, frames, num_codebooks, model)
            context = model.start_packets(num_codebooks, len(packets))
            last = np.zeros((len(packets), num_codebooks), dtype=np.int64)
            for t in range(max(frames, default=0)):
                for p, tables in enumerate(context.next_tables()):
                    if t >= frames[p]:  # this packet has ended
                        continue
                    row = out[p][t]
                    row[: len(tables)] = decoders[p].decode(_FAMILY, tables)
                    if len(tables) < num_codebooks:
                        row[len(tables) :] = decoders[p].decode(
                            uniform, num_codebooks - len(tables)
                        )
                    last[p] = row
                context.update(last)
        except Exception as err:  # constriction raises AssertionError, ValueError
            raise EntropyError(f"undecodable token data: {err}") from err
        except BaseException as err:  # a Rust panic (pyo3's PanicException)
            if type(err).__name__ != "PanicException":
                raise
            raise EntropyError(f"undecodable token data: {err}") from err
    return out


def _words(data):
    """The coder's 32-bit words of a packet's bytes."""
    padded = bytes(data) + b"\0" * (-len(data) % 4)
    return np.frombuffer(padded, dtype="<u4").astype(np.uint32)


def fit_frequency_model(
    codec, wav_files, bitrate_max=None, floor=DEFAULT_FLOOR, progress=False
):
    """Counts the codes of ``codec`` on speech files, per codebook index.

    Residual VQ codes of stage k do not depend on how many stages follow,
    so counts at the highest bitrate serve every bitrate.

    Arguments
    ---------
    codec : RNNCodec
        The loaded codec.
    wav_files : list of str
        Audio files (any format soundfile reads); unreadable ones are
        skipped with a warning.
    bitrate_max : float, optional
        kbps whose codebooks are counted (default: the highest).
    floor : float
        Pseudo-count of every code.
    progress : bool
        Shows a tqdm progress bar.

    Returns
    -------
    FrequencyModel
        Counts [K, C], with the codec's model id and hash in its meta.
    """
    quantizer = codec.mods.quantizer
    bitrate_max = bitrate_max or max(codec.bitrates)
    num_codebooks = codec.num_quantizers_for(bitrate_max)
    size = quantizer.codebook_size
    counts = np.zeros((num_codebooks, size), dtype=np.int64)
    files = list(wav_files)
    if progress:
        from tqdm import tqdm

        files = tqdm(files, unit="file", desc="fit-entropy")
    used = frames = 0
    for path in files:
        try:
            tokens = codec.encode_file(str(path), bitrate=bitrate_max)[0].cpu().numpy()
        except AudioError as err:
            logger.warning("skipping %s", err)
            continue
        for k in range(num_codebooks):
            counts[k] += np.bincount(tokens[:, k], minlength=size)
        used += 1
        frames += len(tokens)
    if not used:
        raise EntropyError("no readable audio file to fit the frequency model on")
    model_id, model_hash = model_fingerprint(codec)
    meta = {
        "model_id": model_id,
        "model_hash": model_hash.hex(),
        "bitrate_max": float(bitrate_max),
        "files": used,
        "frames": frames,
    }
    return FrequencyModel(counts, floor, meta)
