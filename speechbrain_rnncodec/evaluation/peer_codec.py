"""The interface every codec of an evaluation implements (encode to the
bytes a user would store, decode, measured kbps) and the helpers of the
external ones: tools on PATH, their errors, mono float input.

Authors
 * speechbrain_rnncodec team 2026
"""

import pathlib
import shutil
import subprocess

import torch

from speechbrain_rnncodec.audio.io import check_waveform

SAMPLE_RATE = 16000


class MissingToolError(RuntimeError):
    """A codec program or library is not installed (the message says how)."""


class CodecError(RuntimeError):
    """An external codec failed or was given bytes it cannot decode."""


def require_tool(tool, package):
    """Full path of the program ``tool``, or a :class:`MissingToolError`."""
    path = shutil.which(tool)
    if path is None:
        raise MissingToolError(
            f"{tool} not found on PATH: install the Debian package {package} "
            f"(apt-get install {package})"
        )
    return path


def run_tool(cmd):
    """Runs ``cmd``; raises :class:`CodecError` with its stderr on failure."""
    try:
        result = subprocess.run(cmd, capture_output=True, check=False)
    except OSError as err:
        raise CodecError(f"cannot run {cmd[0]}: {err}") from err
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()
        raise CodecError(
            f"{pathlib.Path(cmd[0]).name} failed (exit status {result.returncode}): "
            f"{' '.join(map(str, cmd))}\n{stderr}"
        )
    return result


def mono_waveform(wav):
    """Float32 CPU samples [T] of ``wav`` ([T] or [1, T]), checked finite."""
    wav = torch.as_tensor(wav, dtype=torch.float32).detach().cpu()
    if wav.dim() == 2 and wav.shape[0] == 1:
        wav = wav[0]
    if wav.dim() != 1:
        raise ValueError(f"expected a mono waveform [T], got shape {tuple(wav.shape)}")
    return check_waveform(wav)


def fit_length(wav, num_samples):
    """Cuts or zero-pads ``wav`` [T] to ``num_samples``.

    Arguments
    ---------
    wav : torch.Tensor
        Samples [T].
    num_samples : int
        Length wanted.

    Returns
    -------
    torch.Tensor
        Samples [num_samples].

    Example
    -------
    >>> fit_length(torch.ones(3), 5)
    tensor([1., 1., 1., 0., 0.])
    """
    if len(wav) >= num_samples:
        return wav[:num_samples]
    return torch.nn.functional.pad(wav, (0, num_samples - len(wav)))


class Codec:
    """A speech codec: 16 kHz mono waveforms to stored bytes and back.

    Subclasses set :attr:`name` and implement :meth:`encode` and
    :meth:`decode`; :meth:`kbps` measures the bitrate of the bytes.
    ``make_codec(codec.name)`` rebuilds an equal codec.
    """

    name = "codec"
    sample_rate = SAMPLE_RATE

    def encode(self, wav):
        """Bytes a user would store for ``wav``.

        Arguments
        ---------
        wav : torch.Tensor
            Float samples [T] at 16 kHz, mono.

        Returns
        -------
        bytes
            The coded signal, container included.
        """
        raise NotImplementedError

    def decode(self, data, num_samples=None):
        """Waveform of ``data`` at 16 kHz, aligned with the encoded input.

        Arguments
        ---------
        data : bytes
            What :meth:`encode` returned.
        num_samples : int, optional
            Cut or zero-pad the result to this length. Codecs whose bytes
            record the input length return exactly that length anyway.

        Returns
        -------
        torch.Tensor
            Float samples [T'].
        """
        raise NotImplementedError

    def kbps(self, data, num_samples):
        """Measured bitrate: the byte count of ``data`` over the duration.

        Arguments
        ---------
        data : bytes
            Coded signal.
        num_samples : int
            Samples of the input signal (at :attr:`sample_rate`).

        Returns
        -------
        float
            ``len(data) * 8 / seconds / 1000``.

        Example
        -------
        >>> Codec().kbps(bytes(1000), 16000)
        8.0
        """
        if num_samples <= 0:
            raise ValueError("num_samples must be positive to measure a bitrate")
        return len(data) * 8 / (num_samples / self.sample_rate) / 1000

    def roundtrip(self, wav):
        """Encodes and decodes ``wav`` [T]; returns (bytes, decoded [T])."""
        data = self.encode(wav)
        return data, self.decode(data, num_samples=len(mono_waveform(wav)))

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"
