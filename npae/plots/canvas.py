"""Where figures are drawn: ``pyplot`` (headless-safe) and an empty grid of image cells."""

from __future__ import annotations

import os
import sys

def pyplot():
    """``matplotlib.pyplot``, with the Agg backend when headless (no DISPLAY and pyplot not yet loaded)."""
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("DISPLAY"):
        import matplotlib

        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ----------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------


def cell_grid(n_rows, n_cols, cell=1.1, title=None, extra_height=0.4):
    plt = pyplot()
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols + 0.8, cell * n_rows + extra_height),
                             squeeze=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig, axes
