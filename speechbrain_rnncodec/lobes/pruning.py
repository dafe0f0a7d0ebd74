"""Narrowing a trained recurrent encoder or decoder: fewer recurrent units.

The LSTM stacks dominate encoding and decoding time, and their cost grows
with the square of their width. Instead of training a narrower model from
scratch, its units are ranked by how much the decoded spectrum changes
when each one is silenced, the most useful ones are kept, and the narrowed
model is fine-tuned from there.

A module built around a :class:`~speechbrain_rnncodec.lobes.rnn.ResidualRNN`
has two kinds of units: the dimensions of its residual stream (what the
input projections write, the last recurrent layer adds to, and the output
heads read) and the hidden units of the recurrent layers below the last
one; the encoder's pitch head has a third, the hidden units of its two-layer
perceptron. Each kind is ranked and cut separately, to one width (the
module's ``hidden_size``). A :class:`Layout` names the
layers around the stream: :data:`DECODER` for the
:class:`~speechbrain_rnncodec.lobes.source_filter.SourceFilterDecoder`,
:data:`ENCODER` for the :class:`~speechbrain_rnncodec.lobes.encoder.RNNEncoder`.

Authors
 * speechbrain_rnncodec team 2026
"""

import dataclasses

import torch

RNN = "rnn.rnn.rnn."


@dataclasses.dataclass(frozen=True)
class Layout:
    """The layers around a module's residual stream.

    Arguments
    ---------
    writers : tuple of str
        Layers whose outputs (rows, or the channels of a layer norm) are
        the stream's dimensions and feed it: silencing a dimension zeroes
        them.
    norms : tuple of str
        Layer norms over the stream that only read it (their channels are
        kept or cut with it).
    readers : tuple of str
        Linear layers whose first input columns are the stream (any
        columns after those, e.g. autocorrelation lags, are kept).
    perceptron : tuple of str, optional
        The two linear layers of a perceptron whose hidden width is the
        module's width (its hidden units are the kind ``"perceptron"``).
    """

    writers: tuple
    norms: tuple
    readers: tuple
    perceptron: tuple = ()

    @property
    def kinds(self):
        """The kinds of units ranked and cut."""
        return ("stream", "unit") + (("perceptron",) if self.perceptron else ())


DECODER = Layout(
    writers=("input_proj", "pitch_proj"),
    norms=("output_norm",),
    readers=("pitch_head", "envelope_head", "correction_head", "residual_head"),
)
ENCODER = Layout(
    writers=("input_proj", "subframe_proj", "input_norm"),
    norms=(),
    readers=("output_proj", "pitch_head.0"),
    perceptron=("pitch_head.0", "pitch_head.2"),
)


def _shape(state):
    """Width, gates per unit (4: LSTM, 3: GRU) and recurrent layers of a
    state dict."""
    hidden = state[RNN + "weight_hh_l0"].shape[1]
    gates = state[RNN + "weight_ih_l0"].shape[0] // hidden
    layers = sum(1 for key in state if key.startswith(RNN + "weight_ih_l"))
    return hidden, gates, layers


def _gate_rows(units, hidden, gates):
    """Rows of the stacked gate weights that belong to ``units``."""
    return torch.cat([units + gate * hidden for gate in range(gates)])


def narrow_state(state, layout, kept):
    """The state dict of a narrower module: of each kind of unit, the
    ``kept`` ones (index tensors of one new width).

    Arguments
    ---------
    state : dict
        State dict of a module with an LSTM or GRU :class:`ResidualRNN`.
    layout : Layout
        The layers around its stream (:data:`DECODER`, :data:`ENCODER`).
    kept : dict
        Sorted indices per kind of :attr:`Layout.kinds`: ``"stream"``
        (residual-stream dimensions), ``"unit"`` (hidden units of the
        recurrent layers below the last one), ``"perceptron"``.

    Returns
    -------
    dict
        The state dict of the module with ``hidden_size=len(stream)``.

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.source_filter import SourceFilterDecoder
    >>> wide = SourceFilterDecoder(latent_dim=8, hidden_size=12, n_bands=8)
    >>> keep = torch.arange(0, 12, 2)
    >>> narrow = SourceFilterDecoder(latent_dim=8, hidden_size=6, n_bands=8)
    >>> kept = {"stream": keep, "unit": keep}
    >>> narrow.load_state_dict(narrow_state(wide.state_dict(), DECODER, kept))
    <All keys matched successfully>
    """
    if sorted(kept) != sorted(layout.kinds):
        raise ValueError(f"keep units of each kind: {layout.kinds}")
    if len({len(units) for units in kept.values()}) != 1:
        raise ValueError("every kind of unit keeps one width")
    stream, units = kept["stream"], kept["unit"]
    hidden, gates, layers = _shape(state)
    narrowed = dict(state)
    for name in layout.writers + layout.norms:
        for suffix in (".weight", ".bias"):
            if name + suffix in state:
                narrowed[name + suffix] = state[name + suffix][stream]
    for name in layout.readers:
        if name + ".weight" in state:
            weight = state[name + ".weight"]
            extra = torch.arange(hidden, weight.shape[1])
            narrowed[name + ".weight"] = weight[:, torch.cat([stream, extra])]
    if layout.perceptron:
        first, second = layout.perceptron
        rows = kept["perceptron"]
        for suffix in (".weight", ".bias"):
            narrowed[first + suffix] = narrowed[first + suffix][rows]
        narrowed[second + ".weight"] = state[second + ".weight"][:, rows]
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


def silence(state, layout, kind, index):
    """A copy of a state dict with one unit silenced: stream dimension
    ``index`` (``kind="stream"``: nothing writes it, so it stays zero),
    hidden unit ``index`` of the lower recurrent layers (``kind="unit"``:
    its gates see nothing, so its output stays zero) or of the perceptron
    (``kind="perceptron"``: its input weights and bias are zero)."""
    hidden, gates, layers = _shape(state)
    silenced = dict(state)
    rows = _gate_rows(torch.tensor([index]), hidden, gates)
    if kind == "stream":
        names = [n + s for n in layout.writers for s in (".weight", ".bias")]
        targets = [(n, index) for n in names if n in state]
        recurrent = [layers - 1]
    elif kind == "perceptron":
        first = layout.perceptron[0]
        targets, recurrent = [(first + s, index) for s in (".weight", ".bias")], []
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
def unit_importance(module, layout, measure):
    """How much ``measure()`` changes when each stream dimension and each
    lower-layer hidden unit of ``module`` is silenced alone.

    Arguments
    ---------
    module : torch.nn.Module
        A trained module with a :class:`ResidualRNN` (put in eval mode).
    layout : Layout
        The layers around its stream.
    measure : callable
        Returns a tensor that depends on the module (e.g. the decoded log
        spectrum of some speech).

    Returns
    -------
    dict
        Per kind of :attr:`Layout.kinds`, the mean absolute change of the
        measure [hidden] when each unit of that kind is silenced.

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.source_filter import SourceFilterDecoder
    >>> dec = SourceFilterDecoder(latent_dim=8, hidden_size=6, n_bands=8).eval()
    >>> latents = torch.randn(1, 5, 8)
    >>> scores = unit_importance(dec, DECODER, lambda: dec.frames(latents)[0].abs())
    >>> {kind: tuple(score.shape) for kind, score in scores.items()}
    {'stream': (6,), 'unit': (6,)}
    """
    module.eval()
    original = {k: v.clone() for k, v in module.state_dict().items()}
    hidden = _shape(original)[0]
    reference = measure()
    scores = {kind: torch.zeros(hidden) for kind in layout.kinds}
    try:
        for kind, score in scores.items():
            for index in range(hidden):
                module.load_state_dict(silence(original, layout, kind, index))
                score[index] = (measure() - reference).abs().mean()
    finally:
        module.load_state_dict(original)
    return scores


def most_important(scores, width):
    """The sorted indices of the ``width`` highest scores.

    Example
    -------
    >>> most_important(torch.tensor([0.1, 0.9, 0.5, 0.7]), 2)
    tensor([1, 3])
    """
    return scores.topk(width).indices.sort().values
