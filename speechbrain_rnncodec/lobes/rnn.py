"""A recurrent stack with a skip path, the core of the encoder and decoder.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch
from speechbrain.nnet.RNN import GRU, LSTM

RNN_TYPES = {"lstm": LSTM, "gru": GRU}


class ResidualRNN(torch.nn.Module):
    """Unidirectional LSTM or GRU stack whose output is added to its input.

    The skip path (as in EnCodec's SLSTM and BigCodec's ResLSTM) lets the
    stack learn a correction instead of a whole mapping. The recurrent state
    is returned so that the stack can run chunk by chunk.

    Arguments
    ---------
    size : int
        Input, hidden and output size.
    num_layers : int
        Number of recurrent layers.
    rnn_type : str
        ``"lstm"`` or ``"gru"``.
    dropout : float
        Dropout between recurrent layers.

    Example
    -------
    >>> rnn = ResidualRNN(16, num_layers=2)
    >>> y, state = rnn(torch.randn(2, 5, 16))
    >>> y.shape
    torch.Size([2, 5, 16])
    >>> y2, _ = rnn(torch.randn(2, 3, 16), state)
    >>> y2.shape
    torch.Size([2, 3, 16])
    """

    def __init__(self, size, num_layers=2, rnn_type="lstm", dropout=0.0):
        super().__init__()
        if rnn_type not in RNN_TYPES:
            raise ValueError(
                f"rnn_type must be one of {sorted(RNN_TYPES)}, got {rnn_type!r}"
            )
        self.rnn = RNN_TYPES[rnn_type](
            hidden_size=size,
            input_size=size,
            num_layers=num_layers,
            dropout=dropout,
        )

    def forward(self, x, state=None):
        """Runs the stack on ``x`` [B, T, size] from ``state`` (None: zeros).

        Arguments
        ---------
        x : torch.Tensor
            Input frames [B, T, size].
        state : torch.Tensor or tuple, optional
            The state returned by the previous call.

        Returns
        -------
        y : torch.Tensor
            Output frames [B, T, size].
        state : torch.Tensor or tuple
            The state after the last frame.
        """
        y, state = self.rnn(x, hx=state)
        return x + y, state
