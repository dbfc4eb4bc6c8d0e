"""Pictures of training: filter grids and learning curves (matplotlib, host arrays).

``visualize_grid`` keeps CS231n's name and arguments; the ``plot_*`` functions
write PNG files so that a run on a headless machine leaves something to look at.
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
