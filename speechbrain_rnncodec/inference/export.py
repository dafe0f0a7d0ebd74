"""Export a training checkpoint as a hub folder ``RNNCodec`` loads.

Authors
 * speechbrain_rnncodec team 2026
"""

import os
import pathlib
import shutil
import tempfile

import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_rnncodec.entropy.learned import PRIOR_FILE, LearnedPriorModel
from speechbrain_rnncodec.lobes.streaming import algorithmic_latency_ms
from speechbrain_rnncodec.utils.identity import declared_identity, model_hash

TRAINING_DATA = (
    "LibriSpeech (English read audiobooks, 16 kHz): train-clean-5 plus "
    "train-clean-100-extra (112 speakers of train-clean-100), "
    "random 1.28 s crops; model selection on dev-clean-5."
)


IDENTITY_COMMENT = (
    "# Identity of this model (weights + architecture), recorded at export:",
    "# .rnc files and token priors name it (docs/format.md, Model hash).",
)


def export_checkpoint(
    checkpoint_dir,
    hparams_file,
    out_dir,
    half=True,
    training_data=TRAINING_DATA,
    metrics_markdown=None,
):
    """Writes ``hyperparams.yaml``, one ``<module>.ckpt`` per module and a
    model card ``README.md``.

    Only what inference needs is kept (buffers a module no longer declares
    are dropped); weights are stored in float16 when ``half`` (they are
    loaded back into float32 modules). The folder is written next to
    ``out_dir`` and renamed into place, so a failed export leaves no
    half-written folder.

    Arguments
    ---------
    checkpoint_dir : str
        A ``CKPT+...`` folder of a training run (``encoder.ckpt``, ...).
    hparams_file : str
        The hub yaml of the model (e.g. ``hparams/rnn_vq_16k.yaml``).
    out_dir : str
        Folder to create (replaced if it exists).
    half : bool
        Store floating-point tensors as float16.
    training_data : str
        What the model was trained on, for the model card.
    metrics_markdown : str, optional
        A markdown table of measured results for the model card.

    Returns
    -------
    pathlib.Path
        The written folder.
    """
    checkpoint_dir, out_dir = pathlib.Path(checkpoint_dir), pathlib.Path(out_dir)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=".export-"))
    tmp.chmod(0o755)
    try:
        for name, module in hparams["modules"].items():
            path = checkpoint_dir / f"{name}.ckpt"
            if not path.exists():
                raise FileNotFoundError(f"checkpoint has no {path}")
            state = torch.load(path, map_location="cpu", weights_only=True)
            wanted = module.state_dict()
            missing = sorted(set(wanted) - set(state))
            if missing:
                raise ValueError(
                    f"{path} is not this architecture: lacks {missing[:5]}"
                )
            state = {k: state[k] for k in wanted}
            module.load_state_dict(state)  # checks every shape
            if half:
                state = {
                    k: v.half() if v.is_floating_point() else v
                    for k, v in state.items()
                }
            torch.save(state, tmp / f"{name}.ckpt")
            module.load_state_dict(state)  # the weights as inference loads them
        yaml_text = pathlib.Path(hparams_file).read_text(encoding="utf-8")
        (tmp / "hyperparams.yaml").write_text(
            with_identity(
                yaml_text, out_dir.name, model_hash(yaml_text, hparams["modules"])
            ),
            encoding="utf-8",
        )
        card = model_card(hparams, training_data, metrics_markdown)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out_dir


TOKEN_MODULES = ("encoder", "quantizer")  # what makes the tokens


def recorded_hash(folder):
    """The ``model_hash`` a hub folder's ``hyperparams.yaml`` records (hex).

    Example
    -------
    >>> import tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> text = with_identity("a: 1\\n", "m", bytes(16))
    >>> _ = (folder / "hyperparams.yaml").write_text(text)
    >>> recorded_hash(folder)
    '00000000000000000000000000000000'
    """
    text = (pathlib.Path(folder) / "hyperparams.yaml").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("model_hash:"):
            value = line.partition(":")[2].strip().strip("'\"")
            return declared_identity({"model_hash": value})[1].hex()
    raise ValueError(f"{folder}/hyperparams.yaml records no model_hash")


def carry_token_prior(prior_path, tokens_of, out_dir):
    """Gives an exported hub folder the token prior of another model that
    makes the same tokens (a decoder trained alone keeps the encoder and
    the quantizer): the prior is copied, stamped with the new model's hash.

    Arguments
    ---------
    prior_path : str
        A ``token_prior.npz`` fitted on the model of ``tokens_of``.
    tokens_of : str
        That model's hub folder.
    out_dir : str
        The exported hub folder.

    Raises
    ------
    ValueError
        If the prior was fitted on another model than ``tokens_of``, or
        the two folders' encoders or quantizers differ (other tokens).
    """
    prior = LearnedPriorModel.load(prior_path)
    if prior.meta.get("model_hash") != recorded_hash(tokens_of):
        raise ValueError(f"{prior_path} was not fitted on the model of {tokens_of}")
    for name in TOKEN_MODULES:
        ours, theirs = (
            torch.load(pathlib.Path(f) / f"{name}.ckpt", weights_only=True)
            for f in (out_dir, tokens_of)
        )
        if ours.keys() != theirs.keys() or not all(
            torch.equal(ours[k], theirs[k]) for k in ours
        ):
            raise ValueError(
                f"the {name} of {out_dir} is not that of {tokens_of}: other tokens"
            )
    prior.meta["model_hash"] = recorded_hash(out_dir)
    return prior.save(pathlib.Path(out_dir) / PRIOR_FILE)


def with_identity(yaml_text, model_id, digest):
    """The hub yaml with the model's identity recorded (``model_id`` and
    ``model_hash``, replacing earlier ones).

    Arguments
    ---------
    yaml_text : str
        A hub ``hyperparams.yaml``.
    model_id : str
        The model's name (the hub folder's, e.g. ``rnn_vq_16k``).
    digest : bytes
        The model's hash (:func:`~speechbrain_rnncodec.utils.identity.model_hash`).

    Returns
    -------
    str
        The yaml text.

    Example
    -------
    >>> text = with_identity("a: 1\\nmodel_hash: '00'\\n", "m_16k", bytes(2))
    >>> text.splitlines()[0], text.splitlines()[-2:]
    ('a: 1', ["model_id: 'm_16k'", "model_hash: '0000'"])
    """
    lines = [
        line
        for line in yaml_text.rstrip("\n").splitlines()
        if not line.startswith(("model_hash:", "model_id:"))
        and line not in IDENTITY_COMMENT
    ]
    return "\n".join(
        lines
        + ["", *IDENTITY_COMMENT]
        + [f"model_id: '{model_id}'", f"model_hash: '{digest.hex()}'", ""]
    )


def _rnn(module):
    """The (first) recurrent layer stack inside ``module``."""
    return next(m for m in module.modules() if isinstance(m, torch.nn.RNNBase))


def codebook_entries(module):
    """Numbers in the EMA codebooks (buffers, not parameters) of ``module``."""
    return sum(
        b.numel() for n, b in module.named_buffers() if n.split(".")[-1] == "codebook"
    )


def decoder_head(dec):
    """What the decoder's head is, for the model card."""
    if not getattr(dec, "predicts_pitch", False):
        return "inverse-STFT head"
    if dec.pitch_input:
        sent = "the sent F0 and glide" if dec.sent_channels > 2 else "the sent F0"
        pitch = f"{sent} (with a small predicted correction) and a predicted voicing"
    else:
        pitch = f"{dec.pitch_bins} F0 bins" if dec.pitch_bins else "a regressed F0"
        pitch += " and a voicing decision predicted from the latents"
    return (
        f"source-filter head: {pitch} drive a band-limited harmonic excitation, "
        f"which with seeded "
        f"noise is shaped by {dec.n_bands}-band envelopes"
        + (" plus a complex residual" if dec.residual else "")
        + ", then an inverse STFT"
    )


def _pitch_summary(encoder):
    """The encoder's F0 estimate, for the model card ('' without one)."""
    if getattr(encoder, "pitch_head", None) is None:
        return ""
    text = "; an F0 and voicing head"
    if encoder.pitch_refinement:
        text += (
            f", its F0 refined on the newest {encoder.pitch_refinement} samples "
            "(normalised cross-correlation)"
        )
    if getattr(encoder, "pitch_glide", None):
        text += (
            f" and on the newest {encoder.pitch_glide} samples again, where "
            "the pitch goes by the frame's end (sent as a glide)"
        )
    return text


def _subframe_summary(encoder):
    """The encoder's sub-frame band energies, for the model card ('' without)."""
    if not getattr(encoder, "subframe_bands", None):
        return ""
    return (
        f", which also reads the log energies of {encoder.subframe_bands} mel "
        f"bands every {encoder.subframe_hop} samples"
    )


def _millions(count):
    return f"{count / 1e6:.2f} M"


# The model card's fixed text (model_card).
NOT_MEASURED = (
    "Not measured for this export. `rnncodec eval --data LIBRISPEECH_DIR "
    "--model THIS_FOLDER` measures PESQ-WB, STOI, WER and bitrate next to "
    "Opus and Codec 2; see `recipes/LibriSpeech/codec/README.md` of "
    "speechbrain_rnncodec for the results of the shipped model."
)

LIMITS = (
    "- Trained on English read speech (audiobooks): expect lower quality "
    "on conversational, noisy, reverberant or non-English speech.",
    "- No adversarial (GAN) training yet: decoded speech is smoother and "
    "more muffled than GAN-trained codecs at the same bitrate.",
    "- A small model trained on a CPU on little data; not a replacement "
    "for large codecs trained on thousands of hours.",
)

USAGE = (
    "## Usage",
    "",
    "```python",
    "from speechbrain_rnncodec.inference import RNNCodec",
    'codec = RNNCodec.from_hparams(source="ORG/NAME", savedir="rnncodec_model")',
    "decoded = codec.decode(codec.encode(wavs, bitrate=3.0)[0])  # wavs: [B, T]",
    "```",
    "",
    "`source` is a HuggingFace repo id or the path of this folder. "
    "Command line (installed with speechbrain_rnncodec):",
    "",
    "```bash",
    "rnncodec demo --model ORG/NAME --input speech.wav --output out/",
    "rnncodec eval --model ORG/NAME --data LibriSpeech/test-clean",
    "```",
    "",
)


def model_card(hparams, training_data=TRAINING_DATA, metrics_markdown=None):
    """The ``README.md`` of a hub folder, read from the loaded hub yaml.

    Arguments
    ---------
    hparams : dict
        The loaded hub yaml (``sample_rate``, ``bitrates``, ``modules``
        with ``encoder``, ``quantizer`` and ``decoder``).
    training_data : str
        What the model was trained on.
    metrics_markdown : str, optional
        A markdown table of measured results (default: a pointer to them).

    Returns
    -------
    str
        Markdown, with HuggingFace front matter.
    """
    rate = hparams["sample_rate"]
    bitrates = "/".join(f"{b:g}" for b in hparams["bitrates"])
    lines = [
        "---",
        "library_name: speechbrain",
        "license: apache-2.0",
        "language: en",
        "tags: [speechbrain, audio, speech, codec, audio-tokenizer]",
        "datasets: [librispeech_asr]",
        "---",
        "",
        "# RNNCodec: recurrent neural speech codec "
        f"({rate // 1000} kHz, {bitrates} kbps)",
        "",
        "A causal, streaming neural speech codec built from recurrent networks "
        "with the speechbrain_rnncodec package (a SpeechBrain plugin). One "
        "model serves every bitrate.",
        "",
        "## Model",
        "",
        *_model_lines(hparams),
        "",
        "## Training data",
        "",
        training_data.strip(),
        "",
        "## Results",
        "",
        (metrics_markdown or "").strip() or NOT_MEASURED,
        "",
        "## Limits",
        "",
        f"- {rate // 1000} kHz mono speech only; other rates are resampled, "
        "music and general audio are out of scope.",
        *LIMITS,
        "",
        *USAGE,
    ]
    return "\n".join(lines)


def _model_lines(hparams):
    """The model card's lines on the encoder, quantizer, decoder, rates and
    parameters of the loaded hub yaml ``hparams``."""
    mods = hparams["modules"]
    enc, vq, dec = mods["encoder"], mods["quantizer"], mods["decoder"]
    rate = hparams["sample_rate"]
    enc_rnn, dec_rnn = _rnn(enc), _rnn(dec)
    latency = algorithmic_latency_ms(enc, dec, rate)
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in mods.items()}
    codes = codebook_entries(vq)
    latent = enc.output_proj.out_features
    narrowed = getattr(vq, "last_column_codes", {})
    counts = {b: vq.num_quantizers_for(b) for b in hparams["bitrates"]}
    rates = ", ".join(
        f"{b:g} kbps = {n} codes per frame"
        + (
            f" (the last from a {narrowed[n]}-code codebook of its own)"
            if n in narrowed
            else ""
        )
        for b, n in counts.items()
    )
    return [
        f"- Encoder: causal STFT ({enc.stft.n_fft}-point window, "
        f"{enc.stft.hop_length}-sample hop), {enc.frames_per_step} frames "
        f"stacked, {enc_rnn.num_layers}-layer {type(enc_rnn).__name__} "
        f"{enc_rnn.hidden_size} with a skip path, {latent}-d latent"
        + _subframe_summary(enc)
        + _pitch_summary(enc)
        + ".",
        f"- Quantizer: {vq.summary()}; {rates}.",
        f"- Decoder: {dec_rnn.num_layers}-layer {type(dec_rnn).__name__} "
        f"{dec_rnn.hidden_size}, {decoder_head(dec)} ({dec.istft.n_fft}-point, "
        f"{dec.istft.hop_length}-sample hop).",
        f"- Sample rate {rate} Hz, {vq.frame_rate:g} token frames per second "
        f"({enc.samples_per_frame} samples each), algorithmic latency "
        f"{latency:g} ms; encoder and decoder stream chunk by chunk.",
        f"- Parameters: {_millions(sum(params.values()))} trainable ("
        + ", ".join(f"{n} {_millions(c)}" for n, c in params.items() if c)
        + (f") plus {_millions(codes)} codebook entries." if codes else ")."),
    ]


def load_weights(module, path, prefix=""):
    """Loads one checkpoint into ``module``, strictly and weights-only.

    Unpickling runs with ``weights_only=True`` (no code in a checkpoint
    runs, whatever torch's default); every key and shape must match.

    Arguments
    ---------
    module : torch.nn.Module
        The module to fill.
    path : str
        Its ``.ckpt`` file.
    prefix : str
        Loads only the entries under this submodule name (e.g. ``"rnn"``),
        for a module that is that part of the checkpoint's module.

    Raises
    ------
    FileNotFoundError
        The file is missing.
    ValueError
        The file is not a plain state dict of this architecture.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"missing checkpoint {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unpickling errors
        raise ValueError(f"{path} is not a weights-only checkpoint: {err}") from err
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not weights")
    if prefix:
        start = prefix + "."
        state = {k[len(start) :]: v for k, v in state.items() if k.startswith(start)}
    wanted = module.state_dict()
    bad = sorted(set(wanted) ^ set(state)) or [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in wanted.items()
        if getattr(state[k], "shape", None) != v.shape
    ]
    if bad:
        raise ValueError(
            f"{path} is another architecture than the {type(module).__name__} "
            f"of hyperparams.yaml: {bad[:3]}"
        )
    module.load_state_dict(state)


def load_hub_weights(modules, folder, names=None):
    """Loads ``<folder>/<name>.ckpt`` into each module (e.g. to go on
    training from an exported model; float16 weights become float32).

    Arguments
    ---------
    modules : dict
        Name -> torch.nn.Module.
    folder : str
        A hub folder written by :func:`export_checkpoint`.
    names : list of str, optional
        The modules to load (default: all). A dotted name loads one part of
        a module, e.g. ``"decoder.rnn"`` takes the recurrent stack of
        ``decoder.ckpt`` into ``modules["decoder"].rnn``, to start a new
        decoder head on a trained trunk.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> trained = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    >>> torch.save(trained.state_dict(), f"{folder}/decoder.ckpt")
    >>> fresh = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> load_hub_weights({"decoder": fresh}, folder, ["decoder.0"])
    >>> torch.equal(fresh[0].weight, trained[0].weight)
    True
    """
    for name in names or list(modules):
        root, _, part = name.partition(".")
        module = modules[root].get_submodule(part) if part else modules[root]
        load_weights(module, pathlib.Path(folder) / f"{root}.ckpt", prefix=part)
