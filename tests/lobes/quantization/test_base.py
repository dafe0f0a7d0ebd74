"""Tests for what the bottlenecks share."""

import dataclasses

import pytest
import torch

from speechbrain_rnncodec.lobes.quantization.base import QuantizerOutput
from speechbrain_rnncodec.lobes.quantization.residual import ResidualVectorQuantizer


def test_quantizer_output_keeps_its_field_order():
    names = [field.name for field in dataclasses.fields(QuantizerOutput)]
    assert names == ["quantized", "codes", "loss", "stats", "pitch_scores"]


def test_code_range_is_checked_where_codes_hold_values():
    rates = ResidualVectorQuantizer(dim=2, num_quantizers=2, codebook_size=4)
    rates.check_code_range(torch.tensor([[0, 3]]))
    for bad in ([[0, 4]], [[-1, 0]]):
        with pytest.raises(ValueError, match=r"codes must lie in \[0, 4\)"):
            rates.check_code_range(torch.tensor(bad))
    rates.check_code_range(torch.empty(0, dtype=torch.long))
    rates.check_code_range(torch.full((2,), 9, device="meta"))
