"""The diagrams of the notes' figures draw what their captions say (cheap: small figures, no files)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from cs231n_lib.vis_utils import plot_depth_column, plot_regular_net_and_convnet  # noqa: E402


def circles(ax):
    return [patch for patch in ax.patches if isinstance(patch, Circle)]


@pytest.mark.parametrize("depth", [1, 5, 12])
def test_a_depth_column_has_one_neuron_per_filter_all_wired_to_one_field(depth):
    figure = plot_depth_column(depth=depth, field=5, input_shape=(32, 32, 3))
    ax = figure.axes[0]
    assert len(circles(ax)) == depth
    # Every neuron of the column is wired to the same point: the centre of the receptive field.
    starts = {tuple(line.get_xydata()[0]) for line in ax.lines}
    assert len(ax.lines) == depth and len(starts) == 1
    assert f"{depth} neurons" in ax.get_title()
    plt.close(figure)


@pytest.mark.parametrize("depth, field", [(0, 5), (5, 0), (5, 33), (2.5, 5)])
def test_a_depth_column_rejects_sizes_it_cannot_draw(depth, field):
    with pytest.raises(ValueError, match=r"expected depth >= 1 and 1 <= field <= 32.*got depth="):
        plot_depth_column(depth=depth, field=field, input_shape=(32, 32, 3))


def test_the_regular_network_is_fully_connected_and_the_convnet_has_the_notes_volumes():
    figure = plot_regular_net_and_convnet()
    net_ax, conv_ax = figure.axes
    assert len(circles(net_ax)) == 3 + 4 + 4 + 1
    assert len(net_ax.lines) == 3 * 4 + 4 * 4 + 4 * 1  # every pair of neighbouring layers fully connected
    labels = " ".join(text.get_text() for text in conv_ax.texts)
    for volume in ("32 x 32 x 3", "32 x 32 x 12", "16 x 16 x 12", "1 x 1 x 10"):
        assert volume in labels
    plt.close(figure)
