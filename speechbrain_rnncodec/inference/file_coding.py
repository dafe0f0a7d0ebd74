"""The codec and the ``.rnc`` container together: model fingerprints,
the entropy model of a loaded codec, and the streaming encode / decode
pipelines used by ``RNNCodec.compress`` and the ``rnncodec`` command.

Encoding: audio chunks -> downmix -> :class:`StreamResampler` ->
``TokenStreamEncoder`` -> :class:`RNCWriter` (entropy coder, packets).
Decoding: :class:`RNCReader` -> entropy decoder -> ``TokenStreamDecoder``
-> a sink (array, WAV stream, sound file: :mod:`.sinks`). Memory stays bounded by a
chunk and a packet.

Authors
 * speechbrain_rnncodec team 2026
"""

import logging
import pathlib

import numpy as np
import torch

from speechbrain_rnncodec.audio.io import AudioError
from speechbrain_rnncodec.audio.wavstream import StreamResampler
from speechbrain_rnncodec.bitstream.container import (
    PACKETS_SIDE_BY_SIDE,
    RNCReader,
    RNCWriter,
)
from speechbrain_rnncodec.bitstream.header import (
    HASH_BYTES,
    BitstreamError,
    Header,
    ModelMismatchError,
    TruncatedError,
)
from speechbrain_rnncodec.entropy.coding import (
    FREQUENCY_FILE,
    UNIFORM_ID,
    EntropyError,
    FrequencyModel,
    NarrowedColumns,
    UniformModel,
)
from speechbrain_rnncodec.entropy.gaussian import GaussianContextModel
from speechbrain_rnncodec.entropy.learned import PRIOR_FILE, LearnedPriorModel
from speechbrain_rnncodec.inference.concealment import DEFAULT_METHOD, ConcealingDecoder
from speechbrain_rnncodec.inference.shipped import shipped_model_with_hash
from speechbrain_rnncodec.lobes.quantization.vae import GaussianVAEBottleneck
from speechbrain_rnncodec.utils.identity import model_fingerprint, model_folder

logger = logging.getLogger(__name__)

DEFAULT_FRAMES_PER_PACKET = 50


def load_entropy_model(codec, source=None):
    """The entropy model a codec encodes with.

    Arguments
    ---------
    codec : RNNCodec
        The loaded codec.
    source : str or EntropyModel, optional
        An :class:`EntropyModel`, the path of a ``token_prior.npz`` (the
        learned prior) or of a ``token_frequencies.json``, or
        ``"uniform"``. Default: the hub folder's ``token_prior.npz``, else
        its ``token_frequencies.json`` (each ignored with a warning if made
        for another model), else the bottleneck's own model (the VAE's
        prior), else uniform.

    Returns
    -------
    EntropyModel
    """
    size = codec.mods.quantizer.codebook_size
    if source == UNIFORM_ID:
        return UniformModel(size)
    if source is not None and not isinstance(source, (str, pathlib.Path)):
        model = source
    else:
        explicit = source is not None
        path = pathlib.Path(source) if explicit else None
        if path is None:
            folder = model_folder(codec)
            found = [folder / n for n in (PRIOR_FILE, FREQUENCY_FILE)] if folder else []
            found = [p for p in found if p.is_file()]
            if not found:
                return bottleneck_entropy_model(codec.mods.quantizer)
            path = found[0]
        if path.suffix == ".npz":
            model = LearnedPriorModel.load(path)
        else:
            model = FrequencyModel.load(path)
        wanted = model_fingerprint(codec)[1].hex()
        fitted = model.meta.get("model_hash")
        if fitted is not None and fitted != wanted:
            msg = f"{path} was fitted on another model (hash {fitted[:12]}...)"
            if explicit:
                raise EntropyError(msg)
            logger.warning("%s; coding with a uniform model", msg)
            return UniformModel(size)
    if model.codebook_size != size:
        raise EntropyError(
            f"the entropy model has {model.codebook_size} codes per codebook, "
            f"the codec {size}"
        )
    return model


def bottleneck_entropy_model(quantizer):
    """The bottleneck's own entropy model: the Gaussian context prior of a
    VAE bottleneck (its weights, run in NumPy), else uniform codes.

    Arguments
    ---------
    quantizer : torch.nn.Module
        The codec's bottleneck.

    Returns
    -------
    EntropyModel
        The model the file coder uses without a token prior.
    """
    if isinstance(quantizer, GaussianVAEBottleneck):
        context = quantizer.context
        return GaussianContextModel(
            context.weight.detach().cpu().double().numpy(),
            context.bias.detach().cpu().double().numpy(),
            quantizer.max_symbol,
        )
    return UniformModel(quantizer.codebook_size)


def narrowed(codec, model):
    """``model`` for the codec's columns: wrapped in
    :class:`NarrowedColumns` where a rate narrows its last column
    (``last_column_codes`` of the quantizer), else itself."""
    quantizer = codec.mods.quantizer
    if not getattr(quantizer, "last_column_codes", None):
        return model
    return NarrowedColumns(model, quantizer.column_sizes)


def codec_entropy_model(codec):
    """The codec's entropy model, loaded once (lazily)."""
    model = getattr(codec, "_rnc_entropy_model", None)
    if model is None:
        model = load_entropy_model(codec)
        codec._rnc_entropy_model = model
    return model


def make_header(codec, bitrate=None, frames_per_packet=None, **fields):
    """The :class:`Header` of the codec coding at ``bitrate`` kbps."""
    model_hash = model_fingerprint(codec)[1]
    bitrate = bitrate or max(codec.bitrates)
    quantizer = codec.mods.quantizer
    return Header(
        sample_rate=int(codec.sample_rate),
        samples_per_frame=int(codec.codec.samples_per_frame),
        num_codebooks=codec.num_quantizers_for(bitrate),
        codebook_size=int(quantizer.codebook_size),
        bitrate=int(round(bitrate * 1000)),
        frames_per_packet=frames_per_packet or DEFAULT_FRAMES_PER_PACKET,
        model_hash=model_hash[:HASH_BYTES],
        entropy_id=codec_entropy_model(codec).model_id,
        **fields,
    ).validate()


def check_compatible(codec, header, name="input"):
    """Raises :class:`ModelMismatchError` unless the codec made ``header``."""
    model_id, model_hash = model_fingerprint(codec)
    if not model_hash.startswith(header.model_hash):
        shipped = shipped_model_with_hash(header.model_hash)
        made_by = header.model_id or shipped or "a model that is not shipped"
        hint = f"--model {shipped} (shipped)" if shipped else "--model"
        raise ModelMismatchError(
            f"{name} was made by {made_by} (hash {header.model_hash.hex()[:12]}), "
            f"not by the loaded model {model_id} (hash {model_hash.hex()[:12]}); "
            f"load that model with {hint}"
        )
    quantizer = codec.mods.quantizer
    if (
        header.sample_rate != codec.sample_rate
        or header.samples_per_frame != codec.codec.samples_per_frame
        or header.codebook_size != quantizer.codebook_size
        or header.num_codebooks > codec.codec.max_quantizers()
    ):
        raise ModelMismatchError(f"{name}: header does not fit the loaded model")


def resolve_entropy(codec, header, name="input"):
    """The entropy model named by ``header`` (uniform or the codec's), for
    the codec's columns (:func:`narrowed`)."""
    if header.entropy_id == UNIFORM_ID:
        return narrowed(codec, UniformModel(header.codebook_size))
    model = codec_entropy_model(codec)
    if isinstance(model, LearnedPriorModel) and header.entropy_id in model.ids():
        return narrowed(codec, model.with_arithmetic(model.ids()[header.entropy_id]))
    if model.model_id != header.entropy_id:
        raise ModelMismatchError(
            f"{name} was entropy-coded with {header.entropy_id}, but the "
            f"loaded model has {model.model_id}; use the entropy model file "
            "it was coded with (--entropy FILE)"
        )
    return narrowed(codec, model)


def encode_stream(
    codec,
    chunks,
    rate,
    channels,
    out,
    bitrate=None,
    frames_per_packet=None,
    name="audio",
    notice=None,
    live=False,
    gain_db=0,
):
    """Encodes audio chunks into an ``.rnc`` stream.

    Arguments
    ---------
    codec : RNNCodec
        The loaded codec.
    chunks : iterable
        float32 samples [n, channels] at ``rate``.
    rate : int
        Their sampling rate.
    channels : int
        Their channel count (downmixed to mono).
    out : file object
        Binary output; the header is filled in at the end if seekable.
    bitrate : float, optional
        kbps (default: the highest).
    frames_per_packet : int, optional
        Default 50 (1 s at 50 Hz).
    name : str
        What to call the audio in messages.
    notice : callable, optional
        Called with a message when resampling or downmixing.
    live : bool
        The chunks arrive as they are recorded (a pipe): each is coded at
        once. Otherwise each chunk waits for the next, so that the last one
        and the zero-padded unfinished frame are encoded in one pass.
    gain_db : int
        Whole dB by which to scale the audio before encoding, recorded in
        the header for the decoder to undo (the ``level_gain_db`` of the
        audio's ``active_level_db``: :mod:`speechbrain_rnncodec.audio.level`).

    Returns
    -------
    RNCWriter
        The writer (``header``, ``packets``, ``frames``, ``bytes_written``).
    """
    header = make_header(
        codec,
        bitrate,
        frames_per_packet,
        orig_sample_rate=int(rate),
        orig_channels=int(channels),
        gain_db=int(gain_db),
    )
    writer = RNCWriter(out, header, narrowed(codec, codec_entropy_model(codec)))
    notes = []
    if channels > 1:
        notes.append(f"downmixing {channels} channels to mono")
    resampler = None
    if rate != codec.sample_rate:
        notes.append(f"resampling {rate} Hz to {codec.sample_rate} Hz")
        resampler = StreamResampler(rate, codec.sample_rate)
    if gain_db:
        notes.append(f"scaling by {gain_db:+d} dB into the codec's speech levels")
    scale = 10 ** (gain_db / 20)
    if notes:
        (notice or logger.info)(f"{name}: {', '.join(notes)}")
    stream = codec.streaming_encoder(bitrate)
    total = 0

    def mono():
        for chunk in chunks:
            samples = chunk.mean(axis=1) if chunk.shape[1] > 1 else chunk[:, 0]
            yield resampler.push(samples) if resampler else samples
        if resampler:
            yield resampler.flush()

    def push(samples, last=False):
        nonlocal total
        samples = torch.as_tensor(samples, dtype=torch.float32)
        bad = int((~torch.isfinite(samples)).sum())
        if bad:
            raise AudioError(f"{name} holds {bad} NaN or infinite samples")
        total += len(samples)
        if last and total == 0:
            raise AudioError(f"{name} holds no audio samples")
        if gain_db:
            samples = samples * scale
        if len(samples) or last:
            tokens = stream.push(samples[None].to(codec.device), last=last)
            writer.write(tokens[0].cpu().numpy())

    held = np.zeros(0, dtype=np.float32)
    for samples in mono():
        if live:
            push(samples)
        else:
            push(held)
            held = samples
    push(held, last=True)
    writer.close(total)
    return writer


def _flushed(decoder):
    tail = decoder.flush()
    return tail[0].cpu().numpy() if tail.shape[0] else np.zeros(0)


def _seekable(stream):
    """Whether ``stream`` is a file or buffer (not a pipe)."""
    try:
        return stream.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def decode_stream(codec, stream, sink, conceal=False, name="input", warn=None):
    """Decodes an ``.rnc`` stream into ``sink``, packet by packet (from a
    file or buffer, up to :data:`PACKETS_SIDE_BY_SIDE` entropy-decoded side
    by side).

    Arguments
    ---------
    codec : RNNCodec
        The model that made the stream.
    stream : file object
        Binary input.
    sink : object
        ``start(header)``, ``write(float32 samples)``, ``finish(n)``.
    conceal : bool or str
        A packet whose CRC fails is concealed (reported through ``warn``)
        by a :class:`~speechbrain_rnncodec.inference.concealment.ConcealingDecoder`
        (``True``: its default method, or a method's name) instead of an
        error; a stream cut before its end keeps
        every whole packet before the cut, and where the header gives the
        length, silence fills the rest (reported).
    name : str
        What to call the input in messages.
    warn : callable, optional
        Called with a message per concealed packet (default: log).

    Returns
    -------
    RNCReader
        The reader (``header``, ``num_samples``, ``corrupted``, ...).
    """
    reader = RNCReader(stream, name)
    header = reader.header
    check_compatible(codec, header, name)
    model = resolve_entropy(codec, header, name)
    if conceal:
        method = conceal if isinstance(conceal, str) else DEFAULT_METHOD
        decoder = ConcealingDecoder(codec, method=method)
    else:
        decoder = codec.streaming_decoder()
    out = _Output(sink, header.num_samples, header.samples_per_frame, header.gain_db)
    sink.start(header)

    def push(run):
        """Decodes the codes of consecutive packets in chunks of the
        codec's size."""
        if run:
            codes = torch.from_numpy(np.concatenate(run))[None]
            for frames in codes.split(codec.chunk_frames, dim=1):
                out.emit(decoder.push(frames.to(codec.device))[0].cpu().numpy())
            run.clear()

    def decode(group):
        """Entropy-decodes the group's packets side by side, then decodes
        (or conceals) them in order."""
        good = [packet for packet in group if packet.payload is not None]
        codes, run = iter(reader.decode(good, model)), []
        for packet in group:
            if packet.payload is None:
                push(run)
                (warn or logger.warning)(_corrupted(name, header, packet, decoder))
                out.emit(decoder.conceal(packet.num_frames)[0].cpu().numpy())
            else:
                run.append(next(codes))
        push(run)

    # Packets already on disk are decoded side by side; a live stream's
    # each as soon as it arrives.
    lookahead = PACKETS_SIDE_BY_SIDE if _seekable(stream) else 1
    group, cut = [], None
    try:
        for packet in reader.packets(conceal):
            if packet.num_frames:
                group.append(packet)
            if len(group) == lookahead:
                decode(group)
                group = []
    except TruncatedError as err:
        if not conceal:
            raise
        cut = err
    decode(group)
    out.emit(_flushed(decoder))
    if cut is None:
        num_samples = reader.num_samples
    else:
        num_samples = reader.num_samples = out.fill_cut(cut, header, warn)
    out.end(num_samples)
    if out.emitted != num_samples:
        raise BitstreamError(
            f"{name}: decoded {out.emitted} samples, expected {num_samples}"
        )
    sink.finish(num_samples)
    return reader


def _corrupted(name, header, packet, decoder):
    """The report of a corrupted packet that ``decoder`` conceals."""
    first, hop = packet.first_frame, header.samples_per_frame
    return (
        f"{name}: packet {packet.index} (frames {first} to "
        f"{first + packet.num_frames - 1}) is corrupted (CRC mismatch); "
        f"{packet.num_frames * hop / header.sample_rate:g} s concealed "
        f"({decoder.method})"
    )


class _Output:
    """Passes decoded samples to ``sink`` at the input's level, cut to the
    header's length ``limit``; without one (a stream), the last ``hop``
    samples are held back until :meth:`end` gives the length.

    Arguments
    ---------
    sink : object
        Where the samples go.
    limit : int or None
        Samples in the file, if its header knows.
    hop : int
        Samples per token frame.
    gain_db : int
        The encoder's gain, undone here.
    """

    def __init__(self, sink, limit, hop, gain_db=0):
        self.sink, self.limit, self.hop = sink, limit, hop
        self.scale = 10 ** (-gain_db / 20) if gain_db else None
        self.emitted = 0
        self.held = np.zeros(0, dtype=np.float32)

    def emit(self, samples, final=False):
        """Writes ``samples`` (all the held ones too if ``final``)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self.scale is not None:
            samples = samples * np.float32(self.scale)
        if self.limit is not None:
            samples = samples[: max(self.limit - self.emitted, 0)]
        else:
            samples = np.concatenate([self.held, samples])
            keep = 0 if final else min(self.hop, len(samples))
            self.held = samples[len(samples) - keep :]
            samples = samples[: len(samples) - keep]
        if len(samples):
            self.sink.write(samples)
            self.emitted += len(samples)

    def fill_cut(self, cut, header, warn):
        """After the stream was cut (``cut``, a :class:`TruncatedError`):
        reports it, fills the rest of the header's length with silence and
        returns the samples of the file (without a length: those decoded)."""
        decoded = self.emitted + len(self.held)
        num_samples = decoded if self.limit is None else self.limit
        rest = num_samples - decoded
        (warn or logger.warning)(
            f"{cut}; kept the {decoded / header.sample_rate:.3f} s before the cut"
            + (
                f", {rest / header.sample_rate:.3f} s of silence after it"
                if rest
                else ""
            )
        )
        self.emit(np.zeros(rest, dtype=np.float32))
        return num_samples

    def end(self, num_samples):
        """Writes the held samples, up to ``num_samples`` in all."""
        if self.limit is None:
            self.held = self.held[: max(num_samples - self.emitted, 0)]
            self.emit(np.zeros(0), final=True)


__all__ = [
    "check_compatible",
    "codec_entropy_model",
    "decode_stream",
    "encode_stream",
    "load_entropy_model",
    "make_header",
    "narrowed",
    "resolve_entropy",
]
