"""The VAE's entropy model: the discretized Gaussian context prior of a
:class:`~speechbrain_rnncodec.lobes.quantization.vae.GaussianVAEBottleneck`,
run in NumPy frame by frame inside each packet.

Symbol ``s`` (code ``s + max_symbol``) of a channel gets the mass of a
Gaussian over [s - 1/2, s + 1/2]; the end symbols also take the tails.
The mean and scale of each channel come from a linear layer over the
previous frame's symbols (zero at the start of a packet, as in training's
first frame). Its weights live in the codec's checkpoint, so the file
header's model hash already pins them; the id written in headers is
``gauss1-`` and 16 hex digits of the SHA-256 of the weights. Like the
learned token prior, tables are bit-identical between runs of the same
software on the same kind of CPU, not across CPU families.

Authors
 * speechbrain_rnncodec team 2026
"""

import hashlib

import numpy as np
from scipy.special import ndtr

from speechbrain_rnncodec.entropy.coding import EntropyModel, PacketContext

FLOOR = 1e-7  # every symbol stays codable, whatever the prior believes


class _GaussianContext(PacketContext):
    def __init__(self, model, num_channels):
        self.model = model
        self.channels = num_channels
        self.previous = np.zeros(num_channels)

    def next_tables(self):
        m, n = self.model, self.channels
        params = m.weight[:, :n] @ self.previous + m.bias
        mean = params[:n]
        scale = np.exp(np.clip(params[m.num_channels :][:n], -3.0, 4.0))
        cdf = ndtr((m.edges[None, :] - mean[:, None]) / scale[:, None])
        cdf[:, 0], cdf[:, -1] = 0.0, 1.0  # the end symbols take the tails
        return np.maximum(np.diff(cdf, axis=1), FLOOR)

    def update(self, codes):
        symbols = np.asarray(codes[: self.channels], dtype=np.float64)
        self.previous = symbols - self.model.max_symbol


class GaussianContextModel(EntropyModel):
    """Discretized Gaussian prior over integer latent symbols, its mean and
    scale predicted from the previous frame.

    Arguments
    ---------
    weight : numpy.ndarray
        [2C, C]: previous symbols -> means (first C rows) and log scales.
    bias : numpy.ndarray
        [2C].
    max_symbol : int
        Symbols lie in [-max_symbol, max_symbol] (codes in [0, 2 max + 1)).

    Example
    -------
    >>> from speechbrain_rnncodec.entropy.coding import encode_packet, decode_packet
    >>> model = GaussianContextModel(np.zeros((4, 2)), np.zeros(4), max_symbol=3)
    >>> codes = np.array([[3, 4], [2, 3]])
    >>> decode_packet(encode_packet(codes, model), 2, 2, model).tolist()
    [[3, 4], [2, 3]]
    """

    def __init__(self, weight, bias, max_symbol):
        self.weight = np.asarray(weight, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.num_channels = self.weight.shape[1]
        if self.weight.shape != (2 * self.num_channels, self.num_channels):
            raise ValueError("weight must be [2C, C]")
        self.max_symbol = int(max_symbol)
        self.codebook_size = 2 * self.max_symbol + 1
        self.edges = np.arange(-self.max_symbol, self.max_symbol + 2) - 0.5
        digest = hashlib.sha256(f"{self.max_symbol}".encode())
        digest.update(self.weight.tobytes() + self.bias.tobytes())
        self.model_id = f"gauss1-{digest.hexdigest()[:16]}"

    def start_packet(self, num_codebooks):
        if num_codebooks > self.num_channels:
            raise ValueError(f"the model has {self.num_channels} channels")
        return _GaussianContext(self, num_codebooks)
