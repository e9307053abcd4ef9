"""The math core: layers with hand-written backward passes, losses, penalties and optimizers.

Read in this order (docs/reading-guide.md says what to look for in each):

- ``layers/base.py``: the layer contract and ``Sequential``, the chain rule;
- ``layers/dense.py``, ``layers/activations.py``;
- ``losses.py``, ``penalties.py``, ``optim.py``;
- ``layers/conv.py``, ``layers/pooling.py``, ``layers/upsampling.py`` (their heavy operations are in
  ``npae/backends/reference/``);
- ``functions.py`` (softplus, log-sum-exp, ...), ``checks.py`` (argument checks), ``registry.py`` (what a
  model file may build).

Nothing here imports Numba: the heavy operations go through ``npae.backends.ops``.
"""
