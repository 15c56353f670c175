"""`train --model edit` (the default): what the training loop (`model.loop`) needs to train the edit model.

`EDIT` is the loop's recipe for it (the policy's is `model.policy.train.POLICY`): the configuration from the
flags (`model_config`), the training pairs (`model.edit.pairs.PairSampler`, `make_sampler`), the network
(`model.edit.net.EditModel`), its loss, the held-out evaluation (`model.edit.evaluate`) and the plot
(`plot_metrics`: held-out pairs and steps toward a far target).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..device import size_overrides
from ..plot import plot_training
from ..tokenizer import Tokenizer
from .evaluate import Evaluator, same_image_fn
from .hindsight import check_log
from .net import EditModel, ModelConfig, loss_and_metrics, preset
from .pairs import KINDS, PairSampler
from .step_pairs import STEP_KINDS


def model_config(args, resumed: dict | None) -> ModelConfig:
    """A resumed run's checkpoint config; else --preset with the size flags (--d-model, --layers...) over it."""
    if resumed is not None:
        return ModelConfig.from_dict(resumed)
    return preset(args.preset, **size_overrides(args, ("max_tokens", "max_edits", "vocab_capacity")))


def config_params(config: ModelConfig) -> int:
    """Parameters of an `EditModel` of this configuration (built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        return EditModel(config, config.vocab_capacity).n_params()


def make_sampler(args, source, tokenizer: Tokenizer, config: ModelConfig, rank: int) -> PairSampler:
    return PairSampler(source, tokenizer, max_tokens=config.max_tokens, max_edits=config.max_edits,
                       max_dist=args.max_dist, heldout=args.heldout, seed=args.seed + 1000 * rank,
                       mutations_per_refresh=args.mutations, round_to=16 if args.compile else 1,
                       far_chains=args.far_chains, weights=args.pair_weights,
                       hindsight=check_log(args.hindsight) if args.hindsight else None,
                       target_noise=args.target_noise)


def plot_metrics(jsonl: Path, png: Path) -> None:
    """OUT/training.png for an edit model run: losses; held-out pairs; held-out steps toward a far target."""
    plot_training(jsonl, png, draw_metrics)


def draw_metrics(axes, evals: list[dict]) -> None:
    ax1, ax2, ax3 = axes
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


class EditRecipe:
    """The loop's hooks for the edit model (`model.loop.Recipe`; the policy's are `model.policy.train.POLICY`)."""
    kind = "edit"
    metric_keys = ("loss", "token_acc", "exact_tf")     # averaged into the `train` records

    @staticmethod
    def config(args, resumed: dict | None):
        return model_config(args, resumed)

    @staticmethod
    def with_image_size(config, size: int):
        return ModelConfig.from_dict({**config.to_dict(), "image_size": size})

    @staticmethod
    def params(config) -> int:
        return config_params(config)

    @staticmethod
    def make_data(args, source, tokenizer, config, rank):
        return make_sampler(args, source, tokenizer, config, rank)

    @staticmethod
    def build(config, n_tokens: int):
        return EditModel(config, n_tokens)

    loss = staticmethod(loss_and_metrics)

    @staticmethod
    def evaluator(data, args, source):
        return Evaluator(data, args.eval_pairs, same_image_fn(getattr(source, "threshold", None)))

    @staticmethod
    def describe_eval(r: dict) -> str:
        return (f"held-out loss {r['loss']:.3f} token acc {r['token_acc']:.3f} exact {r['exact']:.3f} "
                f"reproduces B {r['reproduces']:.3f}")

    plot = staticmethod(plot_metrics)


EDIT = EditRecipe()
