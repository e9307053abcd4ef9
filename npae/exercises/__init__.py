"""Exercises: derive a backward pass yourself, and let npae check it and say what is wrong.

``npae exercises list`` shows them in the order of docs/reading-guide.md; ``npae exercises start NAME`` writes
a file holding an npae component with its forward pass as npae runs it and the part to derive removed (its
docstring says what to derive and the shapes); ``npae exercises check FILE`` compares the learner's gradients
with finite differences (and PyTorch and JAX autograd where installed) and gives, per tensor, a hint read from
the mistake's signature (transposed, the batch sum or 1/N missing, a factor 2, the sign, right only at the
padding border or where pooling windows overlap).

- ``template.py``: the learner's file, written from npae's own source;
- ``exercise.py``: what an exercise is (problems, answers, the truth by finite differences, clues);
- ``layers.py``, ``images.py``, ``penalties.py``, ``vae.py``: the exercises; ``catalogue.py``: their order;
- ``diagnosis.py``: from a wrong gradient and the right one, the hint;
- ``checker.py``: running a file and reporting; ``cli.py``: the ``npae exercises`` command.
"""

from .catalogue import EXERCISES, find
from .checker import check
from .cli import start

__all__ = ["EXERCISES", "check", "find", "start"]
