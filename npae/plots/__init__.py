"""The figures of the walkthroughs and of ``npae demo`` (matplotlib).

Every function returns a ``matplotlib.figure.Figure`` (save it with ``npae.apps.walkthrough.save_figure`` or
``fig.savefig``). Conventions: images are drawn upright (origin upper, no ticks), grey ones with the gray
colour map (0 = black, 1 = white) and colour ones as RGB; any size, as (H, W), (C, H, W) with 1 or 3 channels,
or flat with ``shape=``; every axis is labelled with its unit; titles say what is compared.
matplotlib is imported inside the functions, so ``import npae`` stays fast, and the non-interactive Agg
backend is chosen when there is no display.
"""

from .canvas import pyplot
from .charts import (
    code_histograms, line_plot, log_y_axis, scatter_2d, scatter_panels, thumbnail_map, training_curves,
)
from .images import (
    as_image, best_worst, channel_maps, filter_mosaic, filter_mosaics, filters_grid, image_grid, reconstruction_rows,
    shorten, show_image,
)

__all__ = [
    "pyplot", "code_histograms", "line_plot", "log_y_axis", "scatter_2d", "scatter_panels", "thumbnail_map",
    "training_curves",
    "as_image", "best_worst", "channel_maps", "filter_mosaic", "filter_mosaics", "filters_grid", "image_grid",
    "reconstruction_rows", "shorten", "show_image",
]
