"""iapix: IA-pix2seq in PyTorch.

Controllable sketch generation: a CNN encoder maps a 48x48 sketch image to a latent code
(the Yang path), a HyperLSTM decoder turns the code back into pen strokes (the Ying path), and
the latent space is a Gaussian mixture learned by Bayesian Ying-Yang (BYY) harmony learning. The method, which
the docstrings cite as "method §N", is docs/method.md.

Modules, in the order the course introduces them:
``data`` (readers, stroke formats, cleaning, augmentation, Dataset), ``raster`` (48x48 renderer),
``download`` (full sketch-rnn files), ``embedded`` (rebuilds ``data/``), ``encoder`` (CNN encoder and
image decoder), ``latent`` (the GMM and its BYY / EM / RPCL updates), ``decoder`` (recurrent cells,
MDN head, loss, generation) with its fast path ``fused_hyperlstm`` (the numbers both share:
``cell_constants``), ``model`` (``Config``, presets, ``IAPix``), ``config_cli`` (a flag per ``Config``
field), ``train`` (the Trainer and ``iapix train``), ``runfolder`` (the run folder: lock, no overwrite,
logs), ``logplot`` (``iapix plot-log``), ``checkpoint`` (the file layout; save, load, export),
``sample`` (generation, completion, pictures), ``evaluate`` (Rec, Ret, overlap, reports), ``curve``
(learning curves of a run), ``plot`` and ``widgets`` (figures and notebook widgets), ``notebook``
(helpers of the course notebooks), ``cli`` (the ``iapix`` command).
"""

__version__ = "0.1.0"
