"""The figures: images upright and tick-free, axes labelled, titles set, bad input refused by name."""

import subprocess
import sys

import numpy as np
import pytest

from npae import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plots.pyplot().close("all")


def digits(n, rng, flat=True):
    """Images with an asymmetric marker (top-left pixel bright) so orientation can be checked."""
    x = rng.random((n, 28, 28)).astype(np.float32) * 0.5
    x[:, 0, 0] = 1.0
    return x.reshape(n, 784) if flat else x[:, None]


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def assert_upright_and_clean(ax, expected):
    image = ax.images[0]
    assert image.origin == "upper"
    assert image.get_cmap().name == "gray"
    np.testing.assert_array_equal(image.get_array(), expected)
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []


def test_as_image_shapes():
    flat = np.arange(784.0)
    np.testing.assert_array_equal(plots.as_image(flat), flat.reshape(28, 28))
    np.testing.assert_array_equal(plots.as_image(flat.reshape(1, 28, 28)), flat.reshape(28, 28))
    assert plots.as_image(np.zeros(12), shape=(3, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match=r"image: .*shape \(10,\)"):
        plots.as_image(np.zeros(10))


def test_image_grid_upright_with_titles_and_row_labels(rng):
    x = digits(6, rng, flat=False)
    fig = plots.image_grid(x, nrows=2, titles=[f"t{i}" for i in range(6)], row_labels=["a", "b"], title="grid")
    axes = image_axes(fig)
    assert len(axes) == 6
    for ax, img, i in zip(axes, x, range(6)):
        assert_upright_and_clean(ax, img[0])
        assert ax.get_title() == f"t{i}"
    assert axes[0].get_ylabel() == "a" and axes[3].get_ylabel() == "b"
    assert fig._suptitle.get_text() == "grid"
    with pytest.raises(ValueError, match="images"):
        plots.image_grid([])


def test_image_grid_hides_unused_cells(rng):
    fig = plots.image_grid(digits(5, rng), nrows=2)
    assert len(image_axes(fig)) == 5
    assert sum(not ax.axison for ax in fig.axes) == 1


def test_reconstruction_rows_layout(rng):
    originals, a, b = digits(4, rng), digits(4, rng), digits(4, rng)
    fig = plots.reconstruction_rows(originals, {"PCA": a, "AE": b}, digit_labels=[3, 1, 4, 1])
    axes = np.array(image_axes(fig)).reshape(3, 4)
    assert [row[0].get_ylabel() for row in axes] == ["original", "PCA", "AE"]
    assert [ax.get_title() for ax in axes[0]] == ["digit 3", "digit 1", "digit 4", "digit 1"]
    assert_upright_and_clean(axes[1, 2], a[2].reshape(28, 28))
    assert fig._suptitle.get_text()


def rules(fig):
    """The heights (figure fraction) of the horizontal rules drawn across a figure."""
    from matplotlib.lines import Line2D

    return [artist.get_ydata()[0] for artist in fig.artists if isinstance(artist, Line2D)]


def test_reconstruction_rows_rule_off_the_originals(rng):
    originals, a, b = digits(4, rng), digits(4, rng), digits(4, rng)
    fig = plots.reconstruction_rows(originals, {"PCA": a, "AE": b})
    fig.canvas.draw()
    rows = np.array(image_axes(fig)).reshape(3, 4)
    top, first, second = (row[0].get_position() for row in rows)
    [rule] = rules(fig)
    assert top.y0 > rule > first.y1, "the rule lies in a gap between the originals and the reconstructions"
    assert top.y0 - first.y1 > first.y0 - second.y1 >= 0


def test_reconstruction_rows_single_array_and_mismatch(rng):
    fig = plots.reconstruction_rows(digits(3, rng), digits(3, rng))
    assert image_axes(fig)[3].get_ylabel() == "reconstruction"
    with pytest.raises(ValueError, match=r"reconstructions\['AE'\]: expected 3 images"):
        plots.reconstruction_rows(digits(3, rng), {"AE": digits(2, rng)})


def test_best_worst_orders_by_error(rng):
    x, r = digits(10, rng), digits(10, rng)
    errors = rng.random(10)
    fig = plots.best_worst(x, r, errors, n=3)
    axes = np.array(image_axes(fig)).reshape(4, 3)
    best, worst = np.argsort(errors)[:3], np.argsort(errors)[::-1][:3]
    for c in range(3):
        assert_upright_and_clean(axes[0, c], x[best[c]].reshape(28, 28))
        assert_upright_and_clean(axes[1, c], r[best[c]].reshape(28, 28))
        assert_upright_and_clean(axes[2, c], x[worst[c]].reshape(28, 28))
        assert axes[0, c].get_title() == f"{errors[best[c]]:.4f}"
    assert "best" in axes[0, 0].get_ylabel() and "worst" in axes[2, 0].get_ylabel()
    with pytest.raises(ValueError, match=r"errors: expected one error per image, shape \(10,\)"):
        plots.best_worst(x, r, errors[:5])


def test_best_worst_of_few_images_shows_each_once(rng):
    x = digits(5, rng)
    axes = image_axes(plots.best_worst(x, x, np.arange(5.0), n=8))
    assert len(axes) == 4 * 2  # the best two and the worst two; the middle one in neither
    assert [ax.get_title() for ax in axes[:2] + axes[4:6]] == ["0.0000", "1.0000", "4.0000", "3.0000"]


def test_filters_grid_symmetric_scale(rng):
    W = rng.normal(size=(784, 5))
    fig = plots.filters_grid(W)
    axes = image_axes(fig)
    assert len(axes) == 5
    vmin, vmax = axes[2].images[0].get_clim()
    assert vmin == -vmax == -np.abs(W[:, 2]).max()
    with pytest.raises(ValueError, match=r"W: expected shape \(784, units\)"):
        plots.filters_grid(rng.normal(size=(100, 5)))


def test_training_curves_labels_and_styles():
    histories = [{"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]}, {"loss": [2.0, 1.5]}]
    fig = plots.training_curves(histories, ["big", "small"], ylabel="MSE per pixel", val_name="test")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "MSE per pixel"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["big (train, epoch mean)", "big (test, end of epoch)", "small (train, epoch mean)"]
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "--", "-"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    assert "test" in ax.get_title()


def test_training_curves_accepts_a_history_object():
    from npae.training import History

    h = History()
    for v in (1.0, 0.5):
        h.record("loss", v)
    fig = plots.training_curves(h)
    assert len(fig.axes[0].get_lines()) == 1


def test_code_histograms(rng):
    codes = rng.normal(2.0, 3.0, size=(500, 12))
    fig = plots.code_histograms(codes)
    used = [ax for ax in fig.axes if ax.axison]
    assert len(used) == 8
    assert used[0].get_title().startswith("code[0]: mean") and used[0].get_xlabel() == "code value"
    assert "count" in used[0].get_ylabel()
    assert fig._suptitle.get_text() == "distribution of code coordinates 0-7 of 12 over 500 images"
    fig = plots.code_histograms(codes, dims=[3, 7, 8, 9, 11], title="VAE", name="mu")
    assert [ax.get_title().split(":")[0] for ax in fig.axes if ax.axison] == ["mu[3]", "mu[7]", "mu[8]", "mu[9]",
                                                                            "mu[11]"]
    assert fig._suptitle.get_text() == "VAE\nmu coordinates 3, 7-9, 11 of 12"
    with pytest.raises(ValueError, match=r"codes: expected shape \(N, code_dim\)"):
        plots.code_histograms(codes[:, 0])
    with pytest.raises(ValueError, match=r"dims: expected coordinates in 0..11, got 12"):
        plots.code_histograms(codes, dims=[0, 12])


def test_scatter_2d_colours_by_digit(rng):
    points, labels = rng.normal(size=(60, 2)), np.repeat(np.arange(3), 20)
    fig = plots.scatter_2d(points, labels, title="map", xlabel="t-SNE 1", ylabel="t-SNE 2")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    assert ax.get_legend().get_title().get_text() == "digit"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("t-SNE 1", "t-SNE 2", "map")
    colours = {tuple(c.get_facecolor()[0][:3]) for c in ax.collections}
    assert len(colours) == 3
    fig.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.x0 >= ax.get_window_extent().x1, "the legend sits right of the axes, covering no point"
    with pytest.raises(ValueError, match=r"points: expected shape \(N, 2\)"):
        plots.scatter_2d(rng.normal(size=(5, 3)))


def test_scatter_panels_one_axis_per_map(rng):
    maps = {"PCA": rng.normal(size=(30, 2)), "t-SNE": rng.normal(size=(30, 2))}
    fig = plots.scatter_panels(maps, rng.integers(0, 10, 30), title="codes")
    assert [ax.get_title() for ax in fig.axes] == ["PCA", "t-SNE"]
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    fig.canvas.draw()
    assert fig.legends[0].get_window_extent().x0 >= fig.axes[-1].get_window_extent().x1


def test_line_plot_dict_and_log_ticks():
    fig = plots.line_plot([2, 8, 32], {"PCA": [3, 2, 1], "AE": [2, 1, 0.5]}, xlabel="code size",
                          ylabel="MSE", title="error", logx=True)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["PCA", "AE"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "8", "32"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("code size", "MSE", "error")


def test_line_plot_ticks_integer_x_at_integers():
    fig = plots.line_plot(np.arange(1, 3), {"KL": [3.0, 2.0]}, xlabel="epoch")
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 2]
    assert ticks == [1.0, 2.0]


def test_importing_plots_does_not_load_matplotlib():
    code = "import sys, npae, npae.plots, npae.apps.walkthrough; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_channel_maps_share_one_scale_and_a_colorbar(rng):
    kernels = rng.normal(size=(5, 3, 3))
    fig = plots.channel_maps(kernels, titles=[f"filter {k}" for k in range(5)], colorbar_label="weight", ncols=3)
    axes = image_axes(fig)
    assert len(axes) == 5
    largest = np.abs(kernels).max()
    assert all(ax.images[0].get_clim() == (-largest, largest) for ax in axes)
    assert all(ax.images[0].origin == "upper" and list(ax.get_xticks()) == [] for ax in axes)
    np.testing.assert_array_equal(axes[4].images[0].get_array(), kernels[4])
    assert axes[1].get_title() == "filter 1"
    colorbars = [ax for ax in fig.axes if ax.get_ylabel() == "weight"]
    assert len(colorbars) == 1
    maps = rng.random((4, 6, 6)) + 0.5
    clim = image_axes(plots.channel_maps(maps, symmetric=False, cmap="magma"))[0].images[0].get_clim()
    assert clim == (maps.min(), maps.max())
    with pytest.raises(ValueError, match=r"maps: expected shape \(C, H, W\) with C >= 1, got \(3, 3\)"):
        plots.channel_maps(kernels[0])
    with pytest.raises(ValueError, match=r"titles: expected 5 titles \(one per map\), got 2"):
        plots.channel_maps(kernels, titles=["a", "b"])


@pytest.mark.parametrize("values, expected", [
    ([0.04, 0.009], {"0.01", "0.02", "0.03", "0.04"}),   # short axis: every multiple is labelled
    ([0.1, 0.0004], {"0.001", "0.002", "0.005", "0.01", "0.1"}),  # several decades: 1, 2, 5
])
def test_log_axes_are_labelled_with_plain_numbers(values, expected):
    fig = plots.line_plot([1, 2], {"loss": values}, logy=True)
    ax = fig.axes[0]
    fig.canvas.draw()
    low, high = ax.get_ylim()
    labels = {t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks()) if low <= v <= high}
    assert expected <= labels
    assert not any("10^" in label or "times" in label for label in labels)


# ----------------------------------------------------------------------------------------------
# Colour and any size: (C, H, W) images with 1 or 3 channels
# ----------------------------------------------------------------------------------------------


def pictures(n, channels, rng, height=5, width=7):
    """Images (n, C, H, W), not square, with the top-left pixel bright so orientation can be checked."""
    x = rng.random((n, channels, height, width)).astype(np.float32) * 0.5
    x[:, :, 0, 0] = 1.0
    return x


def drawn(image):
    """What ``imshow`` should receive for an image (C, H, W): (H, W) grey or (H, W, 3) colour."""
    return image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)


def test_as_image_reads_channels_first_images():
    rgb = np.arange(60.0).reshape(3, 4, 5)
    np.testing.assert_array_equal(plots.as_image(rgb), np.moveaxis(rgb, 0, -1))
    np.testing.assert_array_equal(plots.as_image(rgb.ravel(), shape=(3, 4, 5)), np.moveaxis(rgb, 0, -1))
    assert plots.as_image(np.zeros((1, 4, 5))).shape == (4, 5)
    with pytest.raises(ValueError, match=r"image: expected \(H, W\), \(C, H, W\) with 1 or 3 channels"):
        plots.as_image(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"image: expected 60 values for shape \(3, 4, 5\), got shape \(59,\)"):
        plots.as_image(np.zeros(59), shape=(3, 4, 5))


@pytest.mark.parametrize("channels", [1, 3])
def test_grids_rows_and_best_worst_draw_one_or_three_channels(rng, channels):
    x, r = pictures(6, channels, rng), pictures(6, channels, rng)
    for ax, image in zip(image_axes(plots.image_grid(x, nrows=2)), x):
        np.testing.assert_array_equal(ax.images[0].get_array(), drawn(image))
        assert ax.images[0].origin == "upper"
        assert (ax.images[0].get_cmap().name == "gray") == (channels == 1)
    axes = np.array(image_axes(plots.reconstruction_rows(x, {"AE": r}))).reshape(2, 6)
    np.testing.assert_array_equal(axes[1, 4].images[0].get_array(), drawn(r[4]))
    errors = np.arange(6.0)
    names = [f"folder/picture_number_{i}.png" for i in range(6)]
    axes = np.array(image_axes(plots.best_worst(x, r, errors, n=2, names=names))).reshape(4, 2)
    np.testing.assert_array_equal(axes[2, 0].images[0].get_array(), drawn(x[5]))  # the worst first
    assert axes[2, 0].get_title() == "..._number_5.png\n5.0000"  # the end of the name, where names differ
    flat = plots.image_grid(x.reshape(6, -1), shape=(channels, 5, 7))
    np.testing.assert_array_equal(image_axes(flat)[0].images[0].get_array(), drawn(x[0]))


def test_colour_filters_map_zero_to_grey(rng):
    W = rng.normal(size=(3 * 4 * 4, 5))
    W[:, 1] = 0
    W[0, 2] = 10.0  # the largest weight of filter 2: red channel, top-left pixel
    axes = image_axes(plots.filters_grid(W, shape=(3, 4, 4)))
    assert len(axes) == 5
    np.testing.assert_array_equal(axes[1].images[0].get_array(), 0.5)
    assert axes[2].images[0].get_array()[0, 0, 0] == 1.0
    with pytest.raises(ValueError, match=r"W: expected shape \(48, units\) for filters of \(3, 4, 4\)"):
        plots.filters_grid(W[:40], shape=(3, 4, 4))


@pytest.mark.parametrize("channels", [1, 3])
def test_thumbnail_map_draws_images_that_do_not_overlap(rng, channels):
    points = rng.normal(size=(300, 2))
    x = pictures(300, channels, rng)
    fig = plots.thumbnail_map(points, x, xlabel="t-SNE 1", ylabel="t-SNE 2", thumbnail_size=0.08)
    ax = fig.axes[0]
    extents = np.array([image.get_extent() for image in ax.images])
    assert 10 < len(extents) < 300 and ax.get_xlabel() == "t-SNE 1" and ax.get_aspect() == 1.0
    side = extents[0, 1] - extents[0, 0]
    centres = np.stack([extents[:, :2].mean(axis=1), extents[:, 2:].mean(axis=1)], axis=1)
    gaps = np.abs(centres[:, None] - centres[None])
    apart = (gaps[..., 0] >= side - 1e-9) | (gaps[..., 1] >= side - 1e-9)
    assert apart[~np.eye(len(centres), dtype=bool)].all()
    for image in ax.images:  # each thumbnail sits on its own point, and shows that point's image
        centre = [np.mean(image.get_extent()[:2]), np.mean(image.get_extent()[2:])]
        k = int(np.argmin(np.sum((points - centre) ** 2, axis=1)))
        np.testing.assert_array_equal(image.get_array(), drawn(x[k]))
    assert f"of 300 images drawn" in ax.get_title()
    with pytest.raises(ValueError, match=r"images: expected one image per point \(300\), got 5"):
        plots.thumbnail_map(points, x[:5])
