"""What the core install (``pip install speechbrain_rnncodec``, no extras)
must do: load the shipped model, encode, decode, compress and decompress,
in the API and the command line.

Run as a script: ``python tests/core_install_smoke.py [--block-extras]``.
``.ci/run`` runs it in a venv that holds only the core requirements;
``tests/test_core_install.py`` runs it here with the extras' packages made
unimportable (``--block-extras``).
"""

import importlib.abc
import sys
import tempfile

# The packages of the extras (setup.cfg): none may be needed by the core.
EXTRAS = {
    "pesq",
    "pystoi",
    "speechmos",
    "onnxruntime",
    "librosa",
    "resemblyzer",
    "faster_whisper",
    "ctranslate2",
    "opuslib",
    "matplotlib",
    "webdataset",
    "torchfcpe",
    "pyworld",
    "playwright",
    "hypothesis",
    "pytest",
}


class BlockExtras(importlib.abc.MetaPathFinder):
    """Makes the extras' packages unimportable."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in EXTRAS:
            raise ImportError(f"{name} is not part of the core install")
        return None


def main():
    """Codes the shipped sample through the API and the command."""
    from speechbrain_rnncodec.audio.io import read_audio
    from speechbrain_rnncodec.cli import main as cli
    from speechbrain_rnncodec.evaluation.demo import SAMPLE
    from speechbrain_rnncodec.inference import RNNCodec

    codec = RNNCodec.from_hparams()
    wav = read_audio(SAMPLE)[:32000]
    tokens, _ = codec.encode(wav[None], bitrate=3.0)
    decoded = codec.decode(tokens)
    assert tokens.shape == (1, 100, 6) and decoded.shape == (1, 32000)
    data = codec.compress(wav, bitrate=1.5)
    expected = codec.decode(codec.encode(wav[None], bitrate=1.5)[0])[0]
    assert (codec.decompress(data) - expected).abs().max() < 1e-4
    with tempfile.TemporaryDirectory() as tmp:
        rnc, out = f"{tmp}/a.rnc", f"{tmp}/a.wav"
        assert cli.main(["encode", str(SAMPLE), rnc, "--bitrate", "3", "--quiet"]) == 0
        assert cli.main(["decode", rnc, out, "--quiet"]) == 0
        assert len(read_audio(out)) == len(read_audio(SAMPLE))
    print(f"core install: encode, decode, compress, CLI ok ({len(data)} bytes)")


if __name__ == "__main__":
    if "--block-extras" in sys.argv:
        sys.meta_path.insert(0, BlockExtras())
    main()
