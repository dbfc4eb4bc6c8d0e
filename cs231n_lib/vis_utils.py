"""Pictures: filter grids and learning curves of training, and diagrams of the notes' figures.

``visualize_grid`` keeps CS231n's name and arguments; ``plot_filters`` and ``plot_history``
write PNG files so that a run on a headless machine leaves something to look at;
``plot_regular_net_and_convnet`` and ``plot_depth_column`` return a figure for a notebook to show.
"""

from .backend import np, to_numpy


def visualize_grid(Xs, ubound=255.0, padding=1):
    """Tile images into one picture, each rescaled to [0, ubound].

    Inputs: Xs (N, H, W, C) images (move C last first for (N, C, H, W) filters).
    Returns grid: (G*(H+padding)-padding, G*(W+padding)-padding, C), G = ceil(sqrt(N)).
    """
    Xs = to_numpy(Xs)
    N, H, W, C = Xs.shape
    side = int(np.ceil(np.sqrt(N)))
    grid = np.zeros((side * (H + padding) - padding, side * (W + padding) - padding, C))
    for index in range(N):
        row, col = divmod(index, side)
        image = Xs[index]
        low, high = float(image.min()), float(image.max())
        scaled = ubound * (image - low) / (high - low) if high > low else np.zeros_like(image)
        top, left = row * (H + padding), col * (W + padding)
        grid[top:top + H, left:left + W] = scaled
    return grid


def _figure():
    import matplotlib
    matplotlib.use("Agg", force=False)  # headless machines have no display
    import matplotlib.pyplot as plt
    return plt


def plot_filters(W1, path, title="First-layer filters"):
    """Save the first-layer filters (F, C, HH, WW) as a grid of colour patches (the notes' figure)."""
    plt = _figure()
    W1 = to_numpy(W1)
    grid = visualize_grid(W1.transpose(0, 2, 3, 1))  # (F, HH, WW, C)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(grid.astype("uint8") if grid.shape[2] == 3 else grid[:, :, 0], cmap="gray")
    ax.set_title(title)
    ax.axis("off")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_history(solver, path):
    """Save the loss per iteration and train/val accuracy per epoch of a trained Solver."""
    plt = _figure()
    fig, (loss_ax, acc_ax) = plt.subplots(2, 1, figsize=(8, 7))
    loss_ax.plot(solver.loss_history, ".", alpha=0.4, markersize=3)
    if len(solver.loss_history) >= 20:  # a running mean shows the trend through minibatch noise
        width = max(len(solver.loss_history) // 50, 5)
        smooth = np.convolve(solver.loss_history, np.ones(width) / width, mode="valid")
        loss_ax.plot(np.arange(width - 1, len(solver.loss_history)), smooth, "-", label=f"mean of {width}")
        loss_ax.legend()
    loss_ax.set_xlabel("iteration")
    loss_ax.set_ylabel("training loss")
    acc_ax.plot(solver.train_acc_history, "-o", label="train")
    acc_ax.plot(solver.val_acc_history, "-o", label="val")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    acc_ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# Diagrams of the notes' figures (matplotlib; the notebooks show the returned figure)

_DEPTH_DIRECTION = (0.45, 0.3)  # the depth axis drawn obliquely, into the page


def _draw_box(ax, left, bottom, width, height, depth, color, alpha=0.35):
    """A width x height x depth box, its front face at (left, bottom); returns the front face's corners."""
    from matplotlib.patches import Polygon

    dx, dy = depth * _DEPTH_DIRECTION[0], depth * _DEPTH_DIRECTION[1]
    front = [(left, bottom), (left + width, bottom), (left + width, bottom + height), (left, bottom + height)]
    top = [front[3], front[2], (front[2][0] + dx, front[2][1] + dy), (front[3][0] + dx, front[3][1] + dy)]
    side = [front[1], (front[1][0] + dx, front[1][1] + dy), (front[2][0] + dx, front[2][1] + dy), front[2]]
    for face, shade in ((side, 0.75), (top, 0.9), (front, 1.0)):
        ax.add_patch(Polygon(face, closed=True, facecolor=color, alpha=alpha * shade + 0.1, edgecolor="black",
                             linewidth=0.8))
    return front


def plot_regular_net_and_convnet():
    """The notes' first figure: a regular 3-layer network (vectors of neurons, every pair of
    neighbouring layers fully connected) beside a ConvNet whose layers are 3D volumes
    (width x height x depth), for the small CIFAR-10 network INPUT -> CONV -> RELU -> POOL -> FC.

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    fig, (net_ax, conv_ax) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.6]})
    layer_sizes, names = (3, 4, 4, 1), ("input layer", "hidden layer 1", "hidden layer 2", "output layer")
    positions = [[(2.0 * column, (size - 1) / 2 - row) for row in range(size)]
                 for column, size in enumerate(layer_sizes)]
    for left, right in zip(positions, positions[1:]):
        for x0, y0 in left:
            for x1, y1 in right:
                net_ax.plot([x0, x1], [y0, y1], color="grey", linewidth=0.7, zorder=1)
    for column, (layer, name) in enumerate(zip(positions, names)):
        for x, y in layer:
            net_ax.add_patch(plt.Circle((x, y), 0.22, facecolor="white", edgecolor="black", zorder=2))
        net_ax.text(2.0 * column, -2.3, name, ha="center", fontsize=9)
    net_ax.set_xlim(-0.8, 6.8)
    net_ax.set_ylim(-2.6, 2.2)
    net_ax.set_aspect("equal")
    net_ax.axis("off")
    net_ax.set_title("a regular network: layers of neurons, fully connected", fontsize=10)

    # Width and height drawn to scale (32 -> 3.2 units), depth stretched so that 3 and 12 read apart.
    volumes = [("input\n32 x 32 x 3", 32, 3, "tab:blue"), ("conv, relu\n32 x 32 x 12", 32, 12, "tab:orange"),
               ("pool\n16 x 16 x 12", 16, 12, "tab:green"), ("fc\n1 x 1 x 10", 1, 10, "tab:red")]
    left = 0.0
    for label, side, depth, color in volumes:
        size, thickness = side / 10, depth / 5
        _draw_box(conv_ax, left, 0.0, thickness, size, size, color)  # depth across the page, width into it
        conv_ax.text(left + thickness / 2, -0.7, label, ha="center", va="top", fontsize=9)
        left += thickness + side / 10 * _DEPTH_DIRECTION[0] + 1.2
    conv_ax.set_xlim(-0.5, left)
    conv_ax.set_ylim(-2.0, 4.5)
    conv_ax.set_aspect("equal")
    conv_ax.axis("off")
    conv_ax.set_title("a ConvNet: every layer a volume (width x height x depth)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_depth_column(depth=5, field=5, input_shape=(32, 32, 3)):
    """The notes' local-connectivity figure: one receptive field of field x field x D of the input
    volume, and the depth column of the conv layer's output that looks at it: ``depth`` neurons
    (one per filter), all connected to the same region, each with weights of its own.

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    W, H, D = input_shape
    if not (isinstance(depth, int) and depth >= 1 and isinstance(field, int) and 1 <= field <= min(W, H)):
        raise ValueError(f"plot_depth_column: expected depth >= 1 and 1 <= field <= {min(W, H)} (the input's "
                         f"width and height) as ints, got depth={depth!r}, field={field!r}")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    scale = 4.0 / max(W, H)
    input_front = _draw_box(ax, 0.0, 0.0, W * scale, H * scale, D * scale * 4, "tab:blue", alpha=0.2)
    # The receptive field: field x field in space, the whole depth D.
    patch_left, patch_bottom = input_front[0][0] + W * scale * 0.55, input_front[0][1] + H * scale * 0.45
    patch = _draw_box(ax, patch_left, patch_bottom, field * scale, field * scale, D * scale * 4, "tab:red", alpha=0.6)
    patch_centre = (patch[0][0] + field * scale / 2, patch[0][1] + field * scale / 2)
    out_left = W * scale + 3.0
    _draw_box(ax, out_left, 0.0, W * scale, H * scale, depth * 0.6, "tab:orange", alpha=0.15)
    dx, dy = 0.6 * _DEPTH_DIRECTION[0], 0.6 * _DEPTH_DIRECTION[1]
    column_x, column_y = out_left + W * scale * 0.55 + field * scale / 2, patch_centre[1]
    for k in range(depth):
        centre = (column_x + k * dx, column_y + k * dy)
        ax.plot([patch_centre[0], centre[0]], [patch_centre[1], centre[1]], color="grey", linewidth=0.8, zorder=1)
        ax.add_patch(plt.Circle(centre, 0.13, facecolor="white", edgecolor="black", zorder=3))
    ax.text(W * scale / 2, -0.4, f"input volume {W} x {H} x {D}\nred: one {field} x {field} x {D} receptive field",
            ha="center", va="top", fontsize=9)
    ax.text(out_left + W * scale / 2, -0.4,
            f"conv layer with {depth} filters\none depth column: {depth} neurons, one per filter,\n"
            f"all looking at the same region", ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.5, out_left + W * scale + depth * dx + 1.0)
    ax.set_ylim(-2.0, H * scale + max(D * scale * 4, depth * 0.6) * _DEPTH_DIRECTION[1] + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"a depth column: {depth} neurons along the depth share one receptive field")
    fig.tight_layout()
    return fig
