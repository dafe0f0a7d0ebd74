"""Generation: speech sampled from a codec's prior over its codes.

The prior is the codec's entropy model (:class:`EntropyModel`), read frame
by frame as the coder reads it: the learned token prior (an autoregressive
GRU over RVQ tokens, ``token_prior.npz``) or the VAE's Gaussian context
prior. Sampling draws each frame's codes from the tables the model gives
after the frames before it; a prompt's codes are fed first, so generation
continues a given utterance.

Authors
 * speechbrain_rnncodec team 2026
"""

import numpy as np
import torch

from speechbrain_rnncodec.entropy.coding import UniformModel


def sample_tokens(
    model, num_frames, num_codebooks, prompt=None, seed=0, temperature=1.0
):
    """Codes [P + num_frames, K] sampled from ``model`` after ``prompt``.

    Arguments
    ---------
    model : EntropyModel
        A model of every one of the ``num_codebooks`` codebooks.
    num_frames : int
        Frames to sample.
    num_codebooks : int
        Codes per frame (K).
    prompt : numpy.ndarray, optional
        Codes [P, K] to continue (returned first, unchanged).
    seed : int
        Seed of the sampler: the same seed gives the same codes.
    temperature : float
        Probabilities are raised to 1 / temperature (below 1: safer picks).

    Returns
    -------
    numpy.ndarray
        Codes (int64).

    Example
    -------
    >>> from speechbrain_rnncodec.entropy.coding import ContextFreeModel
    >>> model = ContextFreeModel(np.array([[0.1, 0.1, 0.8]]), "example")
    >>> sample_tokens(model, 6, 1, seed=0).ravel().tolist()
    [2, 2, 0, 0, 2, 2]
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    prompt = np.zeros((0, num_codebooks), dtype=np.int64) if prompt is None else prompt
    prompt = np.asarray(prompt, dtype=np.int64)
    if prompt.ndim != 2 or prompt.shape[1] != num_codebooks:
        raise ValueError(f"prompt must be [frames, {num_codebooks}] codes")
    rng = np.random.default_rng(seed)
    context = model.start_packet(num_codebooks)
    out = np.empty((len(prompt) + num_frames, num_codebooks), dtype=np.int64)
    out[: len(prompt)] = prompt
    for t in range(len(out)):
        tables = context.next_tables()
        if t >= len(prompt):
            if len(tables) < num_codebooks:
                raise ValueError(
                    f"the prior models {len(tables)} of the {num_codebooks} "
                    "codebooks; generate at a lower bitrate"
                )
            probs = np.asarray(tables, dtype=np.float64) ** (1.0 / temperature)
            cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
            picks = (cumulative < rng.random(num_codebooks)[:, None]).sum(axis=1)
            out[t] = np.minimum(picks, probs.shape[1] - 1)
        context.update(out[t])
    return out


def generate(codec, seconds, bitrate=None, prompt=None, seed=0, temperature=1.0):
    """Speech sampled from the codec's prior, optionally continuing a prompt.

    Arguments
    ---------
    codec : RNNCodec
        A codec whose entropy model is a prior (a hub folder with
        ``token_prior.npz``, or a VAE).
    seconds : float
        Length to generate (after the prompt).
    bitrate : float, optional
        kbps (default: the lowest, whose codes the token prior models).
    prompt : torch.Tensor, optional
        Mono samples [T] at the codec's rate to continue.
    seed : int
        Seed of the sampler.
    temperature : float
        Sampling temperature.

    Returns
    -------
    torch.Tensor
        Samples [T]: the prompt (decoded from its codes) then the
        generated speech.
    """
    model = codec.entropy_model
    if isinstance(model, UniformModel):
        raise ValueError(
            "this model has no prior to sample from: train one with "
            "recipes/LibriSpeech/prior and put token_prior.npz in its folder"
        )
    bitrate = bitrate or min(codec.bitrates)
    count = codec.num_quantizers_for(bitrate)
    codes = None
    if prompt is not None:
        tokens, _ = codec.encode(torch.as_tensor(prompt)[None], bitrate=bitrate)
        codes = tokens[0].cpu().numpy()
    frames = int(round(seconds * codec.sample_rate / codec.codec.samples_per_frame))
    sampled = sample_tokens(model, frames, count, codes, seed, temperature)
    tokens = torch.as_tensor(sampled, device=codec.device)[None]
    return codec.decode(tokens)[0].cpu()
