"""`OUT/training.png`: the training log (`OUT/metrics.jsonl`) drawn as three panels, the losses in the
first; each network's recipe draws its held-out metrics in the other two (`model.edit.train.plot_metrics`,
`model.policy.train.plot_policy_metrics`)."""
from __future__ import annotations

from pathlib import Path

from logo.files import atomic_write, read_jsonl


def atomic_savefig(fig, path: Path) -> None:
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)


def three_panels(jsonl: Path):
    """(figure, (ax1, ax2, ax3), evals) for OUT/training.png with the train and held-out losses drawn in
    ax1, or None when the log has neither yet (train's and the policy's plots share this)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    records = read_jsonl(jsonl)
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    if not train and not evals:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    if train:
        axes[0].plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss", lw=1)
    if evals:
        axes[0].plot([r["step"] for r in evals], [r["loss"] for r in evals], "o-", label="held-out loss", ms=3)
    return fig, axes, evals


def save_and_close(fig, png: Path) -> None:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    atomic_savefig(fig, png)
    plt.close(fig)


def plot_training(jsonl: Path, png: Path, draw) -> None:
    """OUT/training.png from the log: the losses in the first panel, then `draw((ax1, ax2, ax3), evals)` (a
    network's held-out metrics and the panels' titles); nothing while the log has no record yet."""
    drawn = three_panels(jsonl)
    if drawn is None:
        return
    fig, axes, evals = drawn
    draw(axes, evals)
    save_and_close(fig, png)
