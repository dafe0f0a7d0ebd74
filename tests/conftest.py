"""Fixtures shared by every test, and Hypothesis next to SpeechBrain.

* ``codec``: the shipped default model, loaded once per test module.
* ``overfit``: trains linear layers around a bottleneck on fixed data (the
  tests of the grouped bottlenecks and of the VAE).

* Hypothesis scans every module in ``sys.modules`` for constants
  (``getattr(module, "__file__")``); SpeechBrain puts lazy modules there
  whose attribute access imports them, and ``k2_integration`` then raises
  ImportError (k2 is not installed), which kills the collection. The scan
  is made to skip SpeechBrain's lazy modules (a private hook of
  Hypothesis; if it moves, this does nothing).
* Hypothesis' caches go to a temp folder, not ``.hypothesis/`` in the repo.
"""

import sys
import tempfile

import pytest
import torch
from hypothesis import configuration
from speechbrain.utils.importutils import LazyModule

configuration.set_hypothesis_home_dir(tempfile.mkdtemp(prefix="hypothesis-"))

try:
    from hypothesis.internal.conjecture import providers

    _scan = providers._get_local_constants
    _seen = providers._seen_modules
except (ImportError, AttributeError):  # pragma: no cover
    providers = None

if providers is not None:

    def _skip_lazy_modules():
        for module in list(sys.modules.values()):
            if isinstance(module, LazyModule):
                _seen.add(id(module))
        return _scan()

    providers._get_local_constants = _skip_lazy_modules


# --------------------------------------------------------------------------
# Shared fixtures (one conftest for the whole tree: two would both import as
# module ``conftest`` next to --doctest-modules).


@pytest.fixture(scope="module")
def codec():
    """The shipped default model, loaded once per test module."""
    from speechbrain_rnncodec.inference import RNNCodec

    return RNNCodec.from_hparams()


@pytest.fixture
def overfit():
    """A function ``(bottleneck, dim, steps=150)`` that trains encoder and
    decoder layers of size ``dim`` around ``bottleneck`` on fixed data and
    returns the (reconstruction, bottleneck loss, stats) of every step."""

    def train(bottleneck, dim, steps=150):
        torch.manual_seed(1)
        data = torch.randn(8, 10, dim)
        enc, dec = torch.nn.Linear(dim, dim), torch.nn.Linear(dim, dim)
        params = [*enc.parameters(), *dec.parameters(), *bottleneck.parameters()]
        opt = torch.optim.Adam(params, lr=1e-2)
        history = []
        bottleneck.train()
        for _ in range(steps):
            out = bottleneck(enc(data))
            mse = ((dec(out.quantized) - data) ** 2).mean()
            (mse + out.loss).backward()
            opt.step()
            opt.zero_grad()
            history.append((mse.item(), out.loss.item(), out.stats))
        return history

    return train
