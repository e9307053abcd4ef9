"""Programs built on the library: the ``npae`` command (``cli.py``), ``npae demo`` (``demo.py``), and the
shared plumbing of the walkthrough scripts (``walkthrough.py``)."""
