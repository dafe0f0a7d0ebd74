"""Fixtures shared by the test modules."""

import pytest

from speechbrain_rnncodec.inference import RNNCodec


@pytest.fixture(scope="module")
def codec():
    """The shipped default model, loaded once per test module."""
    return RNNCodec.from_hparams()
