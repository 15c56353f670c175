"""`OUT/training.png`: the training log (`OUT/metrics.jsonl`) drawn as three panels: losses, held-out
pairs (accuracies and the rate at which greedy edits reproduce B, per kind), and held-out steps
toward a far target."""
from __future__ import annotations

from pathlib import Path

from logo.files import atomic_write, read_jsonl
from .pairs import KINDS
from .step_pairs import STEP_KINDS


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


def plot_metrics(jsonl: Path, png: Path) -> None:
    drawn = three_panels(jsonl)
    if drawn is None:
        return
    fig, (ax1, ax2, ax3), evals = drawn
    if evals:
        s = [r["step"] for r in evals]
        ax2.plot(s, [r["token_acc"] for r in evals], "o-", ms=3, label="edit token accuracy (teacher forced)")
        ax2.plot(s, [r["exact"] for r in evals], "o-", ms=3, label="exact edit script (greedy)")
        ax2.plot(s, [r["reproduces"] for r in evals], "o-", ms=3, lw=2, label="edits reproduce B (greedy)")
        for k in KINDS:
            key = f"reproduces_{k}"
            if any(key in r for r in evals):
                ax2.plot([r["step"] for r in evals if key in r], [r[key] for r in evals if key in r], ":",
                         lw=1, label=f"  reproduces B: {k}")
        # the step kinds: one step toward a far target; "closer" is the search's own measure
        colors = {"far": "C0", "prefix": "C1", "hindsight": "C2"}
        for k in STEP_KINDS:
            for metric, style, what in (("reproduces", "o-", "step reproduced"), ("closer", "s--", "draws closer")):
                key = f"{metric}_{k}"
                pts = [(r["step"], r[key]) for r in evals if key in r]
                if pts:
                    ax3.plot(*zip(*pts), style, ms=3, color=colors.get(k), label=f"{k}: {what}")
    ax3.set_xlabel("step"), ax3.set_ylim(0, 1), ax3.grid(alpha=0.3)
    ax3.set_title("held-out steps toward a far target")
    if ax3.get_legend_handles_labels()[0]:
        ax3.legend(fontsize=7)
    ax1.set_xlabel("step"), ax1.set_ylabel("loss"), ax1.set_yscale("log"), ax1.legend(), ax1.grid(alpha=0.3)
    ax2.set_xlabel("step"), ax2.set_ylim(0, 1), ax2.legend(fontsize=7), ax2.grid(alpha=0.3)
    ax2.set_title("held-out pairs")
    save_and_close(fig, png)
