"""iapix: IA-pix2seq in PyTorch.

Controllable sketch generation: a CNN encoder maps a 48x48 sketch image to a latent code
(the Yang path), a HyperLSTM decoder turns the code back into pen strokes (the Ying path), and
the latent space is a Gaussian mixture learned by Bayesian Ying-Yang (BYY) harmony learning.

Modules, in the order the course introduces them:
``data`` (readers, stroke formats, cleaning, augmentation, Dataset), ``raster`` (48x48 renderer),
``download`` (full sketch-rnn files), ``encoder``, ``latent``, ``decoder``, ``model``.
"""

__version__ = "0.1.0"
