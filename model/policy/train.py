"""`train --model policy`: what the training loop (`model.loop`) needs to train the edit policy.

`POLICY` is the loop's recipe for it (the edit model's is `model.edit.train.EDIT`): the configuration from the
flags, the examples (`model.policy.data.PolicyData`), the network (`model.policy.net.PolicyModel`), its
loss, the held-out evaluation and the plot. The held-out metrics (`PolicyEvaluator`, logged as `eval`
records in OUT/metrics.jsonl and drawn in OUT/training.png):

- teacher-forced, on a fixed set of held-out examples: loss, top-1 / top-5 accuracy of *where* (the
  most probable slots include a labelled first step's), top-1 of *what* (the best action at a labelled
  slot is a labelled one; `what_kind`: its edit kind is), the decoder's token accuracy;
- sampled, as the search samples (`model.policy.sample.PolicySampler`, K edits per example, no uniform
  share): `closer`, the share of edits whose program draws closer to the target than A (blurred L2,
  the search's score), and `stmt_hit`, the share of decoded statements that occur in the target's
  program (canonical, at any depth).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import logo
from logo.canonical import canonical
from logo.syntax import to_text

from .data import KINDS, PolicyData, statement_keys
from .net import KIND, PolicyConfig, PolicyModel, policy_loss, preset
from ..examples import step_closer

EVAL_SAMPLES = 32          # edits sampled per held-out example for the sampled metrics


class PolicyEvaluator:
    """Held-out metrics of the policy (see the module doc)."""

    def __init__(self, data: PolicyData, n_examples: int = 256, n_sampled: int = 48, seed: int = 1234):
        self.data, self.n_examples, self.n_sampled, self.seed = data, n_examples, n_sampled, seed

    @torch.no_grad()
    def run(self, model, device, autocast) -> dict | None:
        from ..transformer import unwrap
        ring = self.data.rings["heldout"]
        if ring.n == 0:
            return None
        core = unwrap(model)
        core.eval()
        n = min(self.n_examples, ring.n)
        idx = np.arange(n)
        sums: dict[str, float] = {}
        for lo in range(0, n, 64):
            part = idx[lo:lo + 64]
            b = self.data.batch(len(part), "heldout", device, idx=part)
            with autocast():
                _, met = policy_loss(core, b)
            for k, v in met.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(part)
        out = {k: v / n for k, v in sums.items()}
        out.update(self.sampled(core, device))
        out["n_eval"] = n
        core.train()
        return out

    def sampled(self, core, device) -> dict:
        """`closer` and `stmt_hit` over the first `n_sampled` held-out examples."""
        from .sample import PolicySampler
        meta = self.data.heldout_meta
        m = min(self.n_sampled, len(meta))
        if m == 0:
            return {}
        ring = self.data.rings["heldout"]
        sampler = PolicySampler(core, self.data.tok, device, k=EVAL_SAMPLES, eps=0.0, fill=False,
                                library=self.data.library, seed=self.seed, record=True)
        a_progs = [meta[i][0] for i in range(m)]
        outs = sampler.propose(ring.img_a[:m], ring.img_c[:m], a_progs)
        texts, owner = [], []
        for i, cands in enumerate(outs):
            for q in cands:
                texts.append(q)
                owner.append(i)
        hits = stmts = 0
        for i, trace in enumerate(sampler.trace):
            keys = statement_keys(self.data.entry_prog[meta[i][1]])
            for action, content in trace:
                if action in ("insert", "replace_stmt") and content is not None:
                    stmts += 1
                    hits += to_text(canonical(logo.ast.Program((), (content,)))) in keys
        if not texts:
            return {"closer": 0.0, "stmt_hit": 0.0}
        imgs, verdicts = logo.render_checked(texts, size=self.data.size, library=self.data.library,
                                             draw_off_canvas=True)
        ok = verdicts != logo.Verdict.ERROR
        own = np.asarray(owner)
        closer = step_closer(ring.img_a[own], imgs, ok, ring.img_c[own])
        return {"closer": closer / len(texts), "stmt_hit": hits / max(stmts, 1), "runs": float(ok.mean())}


def plot_policy_metrics(jsonl: Path, png: Path) -> None:
    """OUT/training.png for a policy run: losses; held-out where / what accuracy; sampled edits."""
    from ..plot import plot_training
    plot_training(jsonl, png, draw_policy_metrics)


def draw_policy_metrics(axes, evals: list[dict]) -> None:
    ax1, ax2, ax3 = axes
    if evals:
        for key, label in (("where_top1", "where top-1"), ("where_top5", "where top-5"), ("what_top1", "what top-1"),
                           ("what_kind", "edit kind top-1"), ("content_acc", "subtree token accuracy")):
            pts = [(r["step"], r[key]) for r in evals if key in r]
            if pts:
                ax2.plot(*zip(*pts), "o-", ms=3, label=label)
        for key, label in (("closer", "sampled edits that draw closer"), ("stmt_hit", "statements in the target")):
            pts = [(r["step"], r[key]) for r in evals if key in r]
            if pts:
                ax3.plot(*zip(*pts), "o-", ms=3, label=label)
    ax1.set_title("loss"), ax1.set_xlabel("step"), ax1.legend(), ax1.grid(alpha=0.3)
    ax2.set_title("held-out, teacher forced"), ax2.set_xlabel("step"), ax2.set_ylim(0, 1), ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    ax3.set_title("held-out, sampled as the search samples"), ax3.set_xlabel("step"), ax3.set_ylim(0, 1)
    ax3.legend(fontsize=8), ax3.grid(alpha=0.3)


class PolicyRecipe:
    """The loop's hooks for the policy (see `model.loop.Recipe`)."""
    kind = KIND
    metric_keys = ("loss", "where_top1", "what_top1", "content_acc")

    @staticmethod
    def config(args, resumed: dict | None) -> PolicyConfig:
        if resumed is not None:
            return PolicyConfig.from_dict(resumed)
        from ..device import size_overrides
        over = size_overrides(args, ("max_tokens", "vocab_capacity"))
        if getattr(args, "max_content", None):
            over["max_content"] = args.max_content
        if getattr(args, "image_encoder", None):
            over["image_encoder"] = args.image_encoder
        return preset(args.preset, **over)

    @staticmethod
    def with_image_size(config: PolicyConfig, size: int) -> PolicyConfig:
        return replace(config, image_size=size)

    @staticmethod
    def params(config: PolicyConfig) -> int:
        with torch.device("meta"):
            return PolicyModel(config, config.vocab_capacity).n_params()

    @staticmethod
    def make_data(args, source, tokenizer, config: PolicyConfig, rank: int) -> PolicyData:
        return PolicyData(source, tokenizer, max_tokens=config.max_tokens, max_content=config.max_content,
                          heldout=args.heldout, seed=args.seed + 1000 * rank,
                          per_refresh=getattr(args, "policy_examples", 0) or 4096,
                          weights=getattr(args, "policy_weights", None))

    @staticmethod
    def build(config: PolicyConfig, n_tokens: int) -> PolicyModel:
        return PolicyModel(config, n_tokens)

    loss = staticmethod(policy_loss)

    @staticmethod
    def evaluator(data: PolicyData, args, source) -> PolicyEvaluator:
        return PolicyEvaluator(data, n_examples=max(64, args.eval_pairs * 2))

    @staticmethod
    def describe_eval(r: dict) -> str:
        return (f"held-out loss {r['loss']:.3f} where top-1 {r.get('where_top1', 0):.3f} top-5 "
                f"{r.get('where_top5', 0):.3f} what {r.get('what_top1', 0):.3f} closer {r.get('closer', 0):.3f} "
                f"statements in target {r.get('stmt_hit', 0):.3f}")

    plot = staticmethod(plot_policy_metrics)


POLICY = PolicyRecipe()


__all__ = ["POLICY", "PolicyRecipe", "PolicyEvaluator", "plot_policy_metrics", "KINDS"]
