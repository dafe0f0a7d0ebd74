"""Exact fixed-point arithmetic for the learned prior.

Every value is an integer held in float64: weights and biases in units of
2**-12 of their products' operands, embeddings, gates and the hidden state
in units of 2**-12 (:data:`ONE` is 1.0). A product of two such integers is
in units of 2**-24 and goes back to 2**-12 by :meth:`FixedPointPrior.rescale`
(a floor division by a power of two, exact). As long as every partial sum
stays below 2**53, which :class:`FixedPointPrior` checks for its weights,
float64 BLAS returns the same integers whatever the order of its sums, so
the tables are the same on every CPU.

The sigmoid, the tanh and the softmax's exponential are integer tables
computed once with Python's :mod:`decimal` (correctly rounded, the same on
every platform) and indexed by the integers.

>>> import numpy as np
>>> sigmoid = FixedPointPrior.sigmoid
>>> sigmoid(np.array([-2.0**30, 0.0, 2.0**30])).tolist()  # -64, 0, 64: units of 2**-12
[1.0, 2050.0, 4095.0]

Authors
 * speechbrain_rnncodec team 2026
"""

import decimal
import functools

import numpy as np

UNIT_BITS = 12
ONE = 2.0**UNIT_BITS
_PRODUCT_BITS = 2 * UNIT_BITS
_EXACT_LIMIT = 2.0**52
_SIGMOID_STEP_BITS = 8  # sigmoid cells of 2**-8 from -8 to 8
_SIGMOID_LIMIT = 8
_EXP_STEP_BITS = 8  # exponential cells of 2**-8 nats, 32 nats deep
_EXP_LIMIT = 32
_EXP_UNIT_BITS = 40


def _integer_table(function, arguments, unit_bits):
    """round(function(x) * 2**unit_bits) for each Decimal x, computed in
    a private 40-digit context (whatever the caller's decimal context)."""
    with decimal.localcontext(decimal.Context(prec=40)):
        unit = decimal.Decimal(2) ** unit_bits
        values = [(unit * function(x)).to_integral_value() for x in arguments]
    return np.array([int(v) for v in values], dtype=np.float64)


@functools.cache
def _sigmoid_table():
    step = decimal.Decimal(2) ** -_SIGMOID_STEP_BITS
    count = _SIGMOID_LIMIT << _SIGMOID_STEP_BITS
    midpoints = [(i + decimal.Decimal("0.5")) * step for i in range(-count, count)]
    return _integer_table(lambda x: 1 / (1 + (-x).exp()), midpoints, UNIT_BITS)


@functools.cache
def _exp_table():
    step = decimal.Decimal(2) ** -_EXP_STEP_BITS
    steps = [i * step for i in range(_EXP_LIMIT << _EXP_STEP_BITS)]
    table = _integer_table(lambda x: (-x).exp(), steps, _EXP_UNIT_BITS)
    return np.append(table, 0.0)  # and beyond


@functools.cache
def _tanh_table():
    return 2.0 * _sigmoid_table() - ONE  # tanh(x) = 2 sigmoid(2x) - 1


def _cells(products, step_bits):
    """Index in the sigmoid's table of values in units of 2**-24, in cells
    of 2**-step_bits: the cell each value lies in, rounded down, counted
    from the table's first. Truncation rounds down every index from 0 up
    and leaves those below 0 below 1, which the clipped lookup reads as 0
    as it would the rounded-down ones (the sums are exact)."""
    centre = _SIGMOID_LIMIT << _SIGMOID_STEP_BITS
    return (products * 2.0 ** (step_bits - _PRODUCT_BITS) + centre).astype(np.int64)


def _fixed(array, bits):
    """The float array in integer units of 2**-bits."""
    return np.round(np.asarray(array, dtype=np.float64) * 2.0**bits)


def _fixed_t(matrix):
    """The transpose of a weight matrix in units of 2**-12, row-major."""
    return np.ascontiguousarray(_fixed(matrix, UNIT_BITS).T)


class FixedPointPrior:
    """The weights of a token prior's GRU in exact fixed point.

    Arguments
    ---------
    w : dict
        The float arrays of a
        :class:`~speechbrain_rnncodec.entropy.learned.LearnedPriorModel`.
    num_codebooks : int
        Codebooks whose embeddings one frame's input sums.

    Raises
    ------
    ValueError
        If a weight is so large that a sum could leave the exact range.
    """

    one = ONE

    def __init__(self, w, num_codebooks):
        self.embedding = _fixed(w["embedding"], UNIT_BITS)
        self.start = _fixed(w["start"], UNIT_BITS)
        # The matrices of x @ W.T products, stored as W.T in row order: BLAS
        # multiplies the few rows of a frame step about twice as fast.
        self.weight_ih_t = _fixed_t(w["weight_ih"])
        self.weight_hh_t = _fixed_t(w["weight_hh"])
        self.project_weight_t = _fixed_t(w["project_weight"])
        self.output = _fixed(w["output"], UNIT_BITS)
        self.bias_ih = _fixed(w["bias_ih"], _PRODUCT_BITS)
        self.bias_hh = _fixed(w["bias_hh"], _PRODUCT_BITS)
        self.project_bias = _fixed(w["project_bias"], _PRODUCT_BITS)
        self.output_bias = _fixed(w["output_bias"], _PRODUCT_BITS)
        # Each head's weights [R, C] with its bias as one more row, scaled
        # from units of 2**-24 to cells of the exponential's table: one
        # product gives the logits in cells (exact: a power of two scales
        # integers without rounding, and the sums stay exact).
        self.output_in_cells = np.concatenate(
            [self.output, self.output_bias[:, None]], axis=1
        ) * 2.0 ** (_EXP_STEP_BITS - _PRODUCT_BITS)
        if "group_output" in w:
            self._group_head(w)
        inputs = max(
            np.abs(self.start).max(), num_codebooks * np.abs(self.embedding).max()
        )
        low = (
            np.abs(self.project_weight_t).sum(0).max() * ONE
            + np.abs(self.project_bias).max()
        ) / ONE
        bounds = [
            np.abs(self.weight_ih_t).sum(0).max() * inputs + np.abs(self.bias_ih).max(),
            np.abs(self.weight_hh_t).sum(0).max() * ONE + np.abs(self.bias_hh).max(),
            np.abs(self.output).sum(1).max() * (low + 1)
            + np.abs(self.output_bias).max(),
        ]
        if "group_output" in w:
            bounds.append(
                np.abs(_fixed(w["group_output"], UNIT_BITS)).sum(1).max() * (low + 1)
                + np.abs(_fixed(w["group_output_bias"], _PRODUCT_BITS)).max()
            )
        # The gate product r * gh is the largest: at most ONE times gh.
        if max(bounds) * ONE >= _EXACT_LIMIT:
            raise ValueError("token prior weights too large for exact fixed point")

    def _group_head(self, w):
        """A two-level head's weights in cells: the group head [M, R + 1,
        G] and the code head in the order of places [M, G, C / G, R + 1]."""
        groups = w["group_output"].shape[2]
        self.group_output_in_cells = np.concatenate(
            [
                _fixed(w["group_output"], UNIT_BITS),
                _fixed(w["group_output_bias"], _PRODUCT_BITS)[:, None],
            ],
            axis=1,
        ) * 2.0 ** (_EXP_STEP_BITS - _PRODUCT_BITS)
        order = np.asarray(w["code_order"], dtype=np.int64)
        places = np.take_along_axis(self.output_in_cells, order[:, None, :], axis=2)
        places = places.reshape(places.shape[:2] + (groups, -1))
        # [M, G, C / G, R + 1]: each group's weights in one block, which a
        # frame's member head reads as one matrix.
        self.output_in_places = np.ascontiguousarray(places.transpose(0, 2, 3, 1))

    @staticmethod
    def rescale(products):
        """Values in units of 2**-24 -> units of 2**-12 (rounded down)."""
        return np.floor(products / ONE)

    @staticmethod
    def sigmoid(products):
        """sigmoid of values in units of 2**-24, in units of 2**-12."""
        return _sigmoid_table().take(_cells(products, _SIGMOID_STEP_BITS), mode="clip")

    @staticmethod
    def tanh(products):
        """tanh of values in units of 2**-24 (2 sigmoid(2x) - 1: the sigmoid's
        cells at twice the values), in units of 2**-12."""
        cells = _cells(products, _SIGMOID_STEP_BITS + 1)
        return _tanh_table().take(cells, mode="clip")

    @staticmethod
    def exp_below(depths):
        """exp(-x) of depths x >= 0 in cells of the exponential's table
        (the logits of ``output_in_cells`` below their row's largest), in
        units of 2**-40 (0 more than 32 nats below 0).

        >>> cells = 2.0**_EXP_STEP_BITS  # one nat
        >>> FixedPointPrior.exp_below(np.array([0.0, cells, 0.5, 40 * cells])).tolist()
        [1099511627776.0, 404487723188.0, 1099511627776.0, 0.0]
        """
        return _exp_table().take(depths.astype(np.int64), mode="clip")
