"""The numbers both paths of the recurrent cells share (method §7 "HyperLSTM", sketch-rnn's values).

:mod:`iapix.decoder` (the cells, step by step) and :mod:`iapix.fused_hyperlstm` (the HyperLSTM's fast path, which
the decoder calls) must compute the same thing, so both import these from here; neither imports the other's.
"""

LN_EPS = 1e-3  # sketch-rnn's layer_norm / layer_norm_all epsilon
FORGET_BIAS = 1.0  # added to the forget gate's pre-activation before its sigmoid
