"""Narrowing a trained source-filter decoder: fewer recurrent units.

The decoder's LSTM stack dominates decoding time, and its cost grows with
the square of its width. Instead of training a narrower decoder from
scratch, its units are ranked by how much the decoded spectrum changes
when each one is silenced, the most useful ones are kept, and the narrowed
decoder is fine-tuned from there.

A :class:`~speechbrain_rnncodec.lobes.source_filter.SourceFilterDecoder`
with a :class:`~speechbrain_rnncodec.lobes.rnn.ResidualRNN` has two kinds of
units: the dimensions of its residual stream (the input projections, the
last recurrent layer's output, the layer norm and every head read or write
them) and the hidden units of the recurrent layers below the last one.
Both are ranked and cut separately.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

RNN = "rnn.rnn.rnn."
STREAM_WRITERS = ("input_proj", "pitch_proj")  # rows: stream dimensions
STREAM_NORM = "output_norm"
HEADS = ("pitch_head", "envelope_head", "correction_head", "residual_head")


def _shape(state):
    """Width, gates per unit (4: LSTM, 3: GRU) and recurrent layers of a
    decoder state dict."""
    hidden = state[STREAM_NORM + ".weight"].shape[0]
    gates = state[RNN + "weight_ih_l0"].shape[0] // hidden
    layers = sum(1 for key in state if key.startswith(RNN + "weight_ih_l"))
    return hidden, gates, layers


def _gate_rows(units, hidden, gates):
    """Rows of the stacked gate weights that belong to ``units``."""
    return torch.cat([units + gate * hidden for gate in range(gates)])


def narrow_decoder_state(state, stream, units):
    """The state dict of a narrower decoder: ``stream`` dimensions of the
    residual stream and ``units`` hidden units of each lower recurrent layer
    kept (both index tensors of the same new width).

    Arguments
    ---------
    state : dict
        State dict of a source-filter decoder with an LSTM or GRU stack.
    stream : torch.Tensor
        Kept residual-stream dimensions (sorted).
    units : torch.Tensor
        Kept hidden units of the layers below the last one (sorted).

    Returns
    -------
    dict
        The state dict of the decoder with ``hidden_size=len(stream)``.

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.source_filter import SourceFilterDecoder
    >>> wide = SourceFilterDecoder(latent_dim=8, hidden_size=12, n_bands=8)
    >>> keep = torch.arange(0, 12, 2)
    >>> narrow = SourceFilterDecoder(latent_dim=8, hidden_size=6, n_bands=8)
    >>> narrow.load_state_dict(narrow_decoder_state(wide.state_dict(), keep, keep))
    <All keys matched successfully>
    """
    if len(stream) != len(units):
        raise ValueError("the stream and the recurrent layers keep one width")
    hidden, gates, layers = _shape(state)
    narrowed = dict(state)
    for name in STREAM_WRITERS:
        for suffix in (".weight", ".bias"):
            if name + suffix in state:
                narrowed[name + suffix] = state[name + suffix][stream]
    for suffix in (".weight", ".bias"):
        narrowed[STREAM_NORM + suffix] = state[STREAM_NORM + suffix][stream]
    for name in HEADS:
        if name + ".weight" in state:
            narrowed[name + ".weight"] = state[name + ".weight"][:, stream]
    for layer in range(layers):
        inputs = stream if layer == 0 else units
        outputs = stream if layer == layers - 1 else units
        rows = _gate_rows(outputs, hidden, gates)
        narrowed[f"{RNN}weight_ih_l{layer}"] = state[f"{RNN}weight_ih_l{layer}"][rows][
            :, inputs
        ]
        narrowed[f"{RNN}weight_hh_l{layer}"] = state[f"{RNN}weight_hh_l{layer}"][rows][
            :, outputs
        ]
        for kind in ("ih", "hh"):
            narrowed[f"{RNN}bias_{kind}_l{layer}"] = state[
                f"{RNN}bias_{kind}_l{layer}"
            ][rows]
    return narrowed


def silence(state, kind, index):
    """A copy of a decoder state dict with one unit silenced: stream
    dimension ``index`` (``kind="stream"``: nothing writes it, so it stays
    zero) or hidden unit ``index`` of the lower recurrent layers
    (``kind="unit"``: its gates see nothing, so its output stays zero)."""
    hidden, gates, layers = _shape(state)
    silenced = dict(state)
    rows = _gate_rows(torch.tensor([index]), hidden, gates)
    if kind == "stream":
        names = [n + s for n in STREAM_WRITERS for s in (".weight", ".bias")]
        targets = [(n, index) for n in names if n in state]
        recurrent = [layers - 1]
    else:
        targets, recurrent = [], range(layers - 1)
    for layer in recurrent:
        for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            targets.append((f"{RNN}{key}_l{layer}", rows))
    for name, rows_of in targets:
        silenced[name] = state[name].clone()
        silenced[name][rows_of] = 0.0
    return silenced


@torch.no_grad()
def unit_importance(decoder, latents):
    """How much the decoded log spectrum of ``latents`` changes when each
    stream dimension and each lower-layer hidden unit is silenced alone.

    Arguments
    ---------
    decoder : SourceFilterDecoder
        A trained decoder (put in eval mode).
    latents : torch.Tensor
        Decoder input frames [B, T', D] (quantized latents of real speech).

    Returns
    -------
    stream, units : torch.Tensor
        Mean absolute log-magnitude change [hidden] per silenced stream
        dimension and per silenced hidden unit.

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.source_filter import SourceFilterDecoder
    >>> dec = SourceFilterDecoder(latent_dim=8, hidden_size=6, n_bands=8)
    >>> stream, units = unit_importance(dec, torch.randn(1, 5, 8))
    >>> stream.shape, units.shape
    (torch.Size([6]), torch.Size([6]))
    """
    decoder.eval()
    original = {k: v.clone() for k, v in decoder.state_dict().items()}
    hidden = original[STREAM_NORM + ".weight"].shape[0]

    def log_magnitude():
        spec, _ = decoder.frames(latents)
        return torch.log(spec.abs().square() + 1e-6)

    reference = log_magnitude()
    scores = {"stream": torch.zeros(hidden), "unit": torch.zeros(hidden)}
    try:
        for kind, score in scores.items():
            for index in range(hidden):
                decoder.load_state_dict(silence(original, kind, index))
                score[index] = (log_magnitude() - reference).abs().mean()
    finally:
        decoder.load_state_dict(original)
    return scores["stream"], scores["unit"]


def most_important(scores, width):
    """The sorted indices of the ``width`` highest scores.

    Example
    -------
    >>> most_important(torch.tensor([0.1, 0.9, 0.5, 0.7]), 2)
    tensor([1, 3])
    """
    return scores.topk(width).indices.sort().values
