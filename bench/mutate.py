"""Grammatical mutations per second: sites recomputed for every draw (as `mutate` does) against sites
computed once per program and many draws from them (`logo.mutate.Sites`), interleaved in one run.

    python bench/mutate.py [--repeats 7] [--draws 16]

The programs are the 160 DreamCoder tasks in canonical form; every arm draws `--draws` mutations of each
(the `grammar` arm's candidates per node).  Arms:
  per-draw text   `mutate(text, rng)` per draw: parse + canonicalise the program, find its sites, one
                  mutation, print + parse + canonicalise the result (the pair sampler's call)
  sites-once text `Sites.of(program)` once, then `mutate_text` per draw: the same mutations from the
                  same random numbers (checked), without re-reading the program (the `grammar` arm)
  sites-once tree `Sites.of(program)` once, then `Sites.mutate` per draw: the edited Program tree, not
                  printed or canonicalised (for a search that keeps candidates as trees)
  grammar arm     `dream.search.baselines.GrammarProposer(n=draws)` on all the programs as one batch of nodes
Prints the median rate of each arm over `--repeats` interleaved rounds and the ratios to per-draw.  Times
are this process's CPU time (the work is single-threaded), so other jobs on a shared machine disturb
them less than they disturb wall-clock time.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import logo
from data.tasks import all_tasks
from dream.search.baselines import GrammarProposer
from logo.canonical import canonical
from logo.mutate import RandomContent, Sites, mutate


def per_draw_text(texts, draws, seed):
    rng = random.Random(seed)
    content = RandomContent(rng)
    return [mutate(t, rng, content=content) for t in texts for _ in range(draws)]


def sites_once(texts, draws, seed, draw):
    """`draws` draws per program from its sites, computed once: `draw(sites, rng, content)` is one."""
    rng = random.Random(seed)
    content = RandomContent(rng)
    out = []
    for t in texts:
        sites = Sites.of(canonical(t), is_canonical=True)
        out += [draw(sites, rng, content) for _ in range(draws)]
    return out


def sites_once_text(texts, draws, seed):
    return sites_once(texts, draws, seed, lambda sites, rng, content: sites.mutate_text(rng, content=content))


def sites_once_tree(texts, draws, seed):
    return sites_once(texts, draws, seed, lambda sites, rng, content: sites.mutate(rng, content=content))


def grammar_arm(texts, draws, seed):
    return GrammarProposer(n=draws, seed=seed)(None, None, texts)


ARMS = {"per-draw text": per_draw_text, "sites-once text": sites_once_text, "sites-once tree": sites_once_tree,
        "grammar arm": grammar_arm}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--draws", type=int, default=16, help="mutations drawn per program")
    args = ap.parse_args(argv)
    texts = [logo.to_text(canonical(t.program)) for t in all_tasks(28)]
    n = len(texts) * args.draws
    assert per_draw_text(texts, args.draws, 0) == sites_once_text(texts, args.draws, 0), "sites-once draws differ"
    times = {name: [] for name in ARMS}
    for r in range(args.repeats + 1):                      # round 0 warms up
        order = list(ARMS) if r % 2 else list(reversed(ARMS))
        for name in order:
            t0 = time.process_time()
            ARMS[name](texts, args.draws, r)
            if r:
                times[name].append(time.process_time() - t0)
    rates = {name: n / statistics.median(ts) for name, ts in times.items()}
    base = rates["per-draw text"]
    print(f"{len(texts)} DreamCoder task programs x {args.draws} draws, one process, CPU time, median of "
          f"{args.repeats} interleaved rounds (sites-once text draws the same mutations as per-draw text: checked)")
    for name, rate in rates.items():
        print(f"  {name:<16} {rate:>9,.0f} mutations/s  {rate / base:>5.2f}x  "
              f"({1e6 / rate:,.1f} us per mutation)")


if __name__ == "__main__":
    main()
