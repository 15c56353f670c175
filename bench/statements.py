"""Which whole statements would help, and can a small image classifier name them? (issue 19's oracle, again)

    .venv/bin/python bench/statements.py [--train-seconds 300] [--budget 3] [--share 0.5] [--top 8]

The grammatical mutator (`grammar`) inserts and replaces statements drawn at random. Here, with
probability --share, a new statement comes instead from a pool (`dream.search.retrieval.PoolContent`):

- `oracle`: the target's own statements (`logo.tree_path.closed_statements` of its reference program);
- `classifier`: the --top statements a small CNN trained for --train-seconds CPU seconds says the
  target's program contains, repeated by probability (DeepCoder-style: a multi-label head over a
  statement vocabulary);
- `vocabulary`: the vocabulary itself, repeated by frequency (no image: the prior alone);
- `grammar`: no pool.

No leakage: the vocabulary is the statements of the even-numbered DreamCoder *train* tasks; the
classifier trains on 20,000 random compositions of them (1-3 statements, pen-up moves and turns between,
sometimes a loop around: `logo.generate.compose`) drawn at the database's image
size; every arm is searched on the odd-numbered
train tasks (`Solver.solve_one`: the same enumerated and database starts and budget per arm, in one
process, arms interleaved per target). Prints the classifier's held-out precision@top (and the random
rate) and solved per arm.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

ARMS = ("grammar", "vocabulary", "classifier", "oracle")


def vocabulary(programs):
    """(statement texts sorted, their counts) over `programs`' closed statements."""
    from logo.canonical import canonical
    from logo.tree_path import closed_statements
    cnt = collections.Counter()
    for p in programs:
        cnt.update(closed_statements(canonical(p)))
    return sorted(cnt), cnt


def compositions(stmts, weights, n: int, size: int, seed: int = 0):
    """`n` (image, multi-hot) examples of `logo.generate.compose` programs over `stmts`; labels are the
    program's closed statements that are in the vocabulary."""
    import random

    import logo
    from logo.ast import Program
    from logo.canonical import canonical
    from logo.generate import compose
    from logo.tree_path import closed_statements
    rng = random.Random(seed)
    index = {logo.to_text(canonical(Program((), (s,)))): i for i, s in enumerate(stmts)}
    X = np.zeros((n, size, size), np.uint8)
    Y = np.zeros((n, len(stmts)), np.float32)
    i = 0
    while i < n:
        p = compose(stmts, weights, rng)
        try:
            img = logo.render(p, size=size)
        except logo.LogoError:
            continue
        if not img.any():
            continue
        X[i] = img
        for s in closed_statements(p):
            if s in index:
                Y[i, index[s]] = 1.0
        i += 1
    return X, Y


def classifier(n_out: int):
    """A small CNN: four 3x3 convolutions (stride 2 from the second), mean and max pooled, one linear layer."""
    import torch
    from torch import nn

    class StatementNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList([nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1, stride=2),
                                        nn.Conv2d(64, 128, 3, padding=1, stride=2),
                                        nn.Conv2d(128, 128, 3, padding=1, stride=2)])
            self.out = nn.Linear(256, n_out)

        def forward(self, images):
            x = images.float()[:, None] / 255.0
            for conv in self.convs:
                x = nn.functional.gelu(conv(x))
            return self.out(torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1))
    return StatementNet()


def train(net, X, Y, seconds: float, seed: int = 0) -> int:
    import torch
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-4)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    t0, steps = time.process_time(), 0
    while time.process_time() - t0 < seconds:
        idx = torch.randint(0, len(X), (128,))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(Xt[idx]), Yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    return steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=None, help="database for start programs (default: none, the empty program)")
    p.add_argument("--train-seconds", type=float, default=300.0)
    p.add_argument("--budget", type=float, default=3.0)
    p.add_argument("--share", type=float, default=0.5)
    p.add_argument("--top", type=int, default=8)
    p.add_argument("--arms", default=",".join(ARMS))
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    import data
    import logo
    from dream.search.baselines import GrammarProposer
    from dream.search.retrieval import PoolContent
    from dream.search.settings import SearchSettings
    from dream.search.solver import Solver
    from dream.search.targets import load_targets
    from logo.canonical import canonical
    from logo.tree_path import closed_statements

    arms = [a for a in args.arms.split(",") if a]
    train_tasks = data.dreamcoder_tasks("train")
    source, held = train_tasks[0::2], train_tasks[1::2]
    texts, counts = vocabulary(t.program for t in source)
    stmts = [logo.parse(s).body[0] for s in texts]
    weights = np.array([counts[s] for s in texts], float)
    weights /= weights.sum()
    solver = Solver.open(["grammar"], db=args.db, settings=SearchSettings(budget_s=args.budget))
    size = solver.image_size
    X, Y = compositions(stmts, weights, 20_000, size)
    net = classifier(len(texts))
    steps = train(net, X, Y, args.train_seconds)
    net.eval()
    _, targets, _ = load_targets("dreamcoder", "train", size, None)
    by_name = {t.name: t for t in held}
    targets = [t for t in targets if t.name in by_name]
    refs = {t.name: closed_statements(canonical(by_name[t.name].program)) for t in targets}
    with torch.no_grad():
        probs = torch.sigmoid(net(torch.from_numpy(np.stack([t.image for t in targets])))).numpy()
    hits = sum(texts[i] in refs[t.name] for t, pr in zip(targets, probs) for i in np.argsort(-pr)[:args.top])
    rate = np.mean([len(set(refs[t.name]) & set(texts)) / len(texts) for t in targets])
    print(f"vocabulary {len(texts)} statements from {len(source)} train tasks; classifier {steps} steps in "
          f"{args.train_seconds:g} CPU s; held-out precision@{args.top} {hits / (args.top * len(targets)):.3f} "
          f"(a random vocabulary statement: {rate:.3f})")

    prior = [s for s, text in zip(stmts, texts) for _ in range(counts[text])]

    def pool_for(arm: str, k: int) -> list:
        if arm == "oracle":
            return [logo.parse(s).body[0] for s in refs[targets[k].name]]
        if arm == "vocabulary":
            return prior
        order = np.argsort(-probs[k])[:args.top]
        return [stmts[i] for i in order for _ in range(max(1, int(round(10 * probs[k][i]))))]

    class PoolProposer(GrammarProposer):
        def __init__(self, pool, **kw):
            super().__init__(**kw)
            self.content = PoolContent(self.content, pool, args.share)

    current = {}
    plain = solver.proposer

    def proposer(arm, seed=0):                 # every arm is the grammar mutator; the pool arms add a pool
        if arm == "grammar":
            return plain(arm, seed)
        return PoolProposer(current[arm], n=solver.settings.candidates_per_expansion, seed=seed,
                            library=solver.library, max_tokens=solver.max_tokens)
    solver.proposer = proposer                 # the pool arms are this script's own
    solved = collections.Counter()
    for k, t in enumerate(targets):
        for arm in arms:
            current[arm] = pool_for(arm, k) if arm != "grammar" else None
            solved[arm] += bool(solver.solve_one(arm, t, k)["solved"])
        print(f"{k + 1:3d}/{len(targets)} {t.name:40s} " + " ".join(f"{a} {solved[a]}" for a in arms), flush=True)
    solver.close()
    print(f"solved of {len(targets)} held-out train tasks, {args.budget:g} s each, share {args.share}: "
          + ", ".join(f"{a} {solved[a]}" for a in arms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
