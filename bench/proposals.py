"""What each proposer's candidates look like, one expansion from the same start programs: why an arm
wins or loses the search.

    .venv/bin/python bench/proposals.py --db DB [--ckpt DIR] [--arms model,random,enum,grammar] [--limit 20]
    .venv/bin/python bench/proposals.py --db DB --ckpt POLICY_DIR --arms policy,policy-where,policy-what,grammar

For each target (DreamCoder test, --limit spread over the split) the search's start programs (the k
nearest database entries and the empty program, `dream.search.solver.start_programs`) are each expanded once by
every arm (the model's samples and beam, or the same number of candidates; `Solver.proposer`, reset
for each target, as in the search). Per arm: candidates, the share that parse, run within the limits and draw something,
that are distinct and new (not the parent, not another start), that draw closer to the target than
their parent (blurred L2, the search's own score), the best improvement, the median token edit
distance from the parent, and the proposer's own speed (candidates per CPU second of the proposer
call, one thread; the search's rendering and scoring, the same for every arm, not counted). For the
policy arms also the share of the statements they wrote (inserted or replaced) that occur in the
target's reference program (`in ref`, canonical, at any depth); for the edit model decoded under the grammar
(`model`; `model-unmasked` is the same checkpoint without the masks) the share of its scripts that
`ScriptGrammar.repair` had to finish (`repaired`: cut by the 16-edit cap; the rest the masks alone kept
grammatical). The policy arms' ablations: learned
where + uniform what (`policy-where`), uniform where + learned what (`policy-what`), both (`policy`);
`grammar` is uniform both. Tune on --split train; the test split is for final figures.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import logo  # noqa: E402
from dream.search.arms import ARMS  # noqa: E402
from dream.search.settings import SearchSettings  # noqa: E402
from dream.search.solver import Solver, SolveError, start_programs  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", required=True)
    p.add_argument("--ckpt")
    p.add_argument("--arms", default="model,random,enum,grammar")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--split", default="test")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", dest="json_out")
    SearchSettings.add_arguments(p, "bench")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    for a in arms:
        if a not in ARMS:
            raise SystemExit(f"bench/proposals.py: unknown arm {a!r} (choose from {', '.join(ARMS)})")
    import torch
    torch.set_num_threads(1)
    from dream.search.score import Scorer
    from app.solve import load_targets
    from model.edit.edits import distance
    from model.edit.steps import draws
    from model.tokenizer import canonical_text, program_tokens

    try:
        solver = Solver.open(arms, ckpt=args.ckpt, db=args.db, device=args.device,
                             settings=SearchSettings.from_args(args))
    except SolveError as e:
        raise SystemExit(f"bench/proposals.py: {e}") from None
    db, library, size, max_tokens = solver.db, solver.library, solver.image_size, solver.max_tokens
    _, targets, _ = load_targets("dreamcoder", args.split, size, args.limit)
    from logo.canonical import canonical
    from model.policy.data import statement_keys
    stats = {a: {"candidates": 0, "parse": 0, "draw": 0, "new": 0, "closer": 0, "gain": [], "dist": [],
                 "examples": [], "cpu_s": 0.0, "stmts": 0, "stmt_hits": 0, "scripts": 0, "repaired": 0} for a in arms}
    for t in targets:
        starts = [s for s in start_programs(db, t.image, args.k) if len(program_tokens(s) if s else []) <= max_tokens]
        simgs, sok = draws([s or "(move 0 0)" for s in starts], size, library)
        scorer = Scorer(t.image)
        sdist = scorer.distance(simgs)
        sdist[[i for i, s in enumerate(starts) if not s]] = 1.0
        canon_starts = {canonical_text(s) if s else "" for s in starts}
        imgs_b = np.repeat(t.image[None], len(starts), 0)
        ref_keys = statement_keys(canonical(t.known_program)) if t.known_program else set()
        for arm in arms:
            expand = solver.proposer(arm)          # fresh, or the model's reset: it beams these starts again
            sampler = getattr(expand, "sampler", None)
            if sampler is not None:
                sampler.record = True
            before = (getattr(expand, "proposed", 0), getattr(expand, "repaired", 0))
            c0 = time.process_time()
            props = expand(simgs, imgs_b, starts)
            st = stats[arm]
            st["cpu_s"] += time.process_time() - c0
            if getattr(expand, "grammar", None) is not None:      # the grammatical edit decoder
                st["scripts"] += expand.proposed - before[0]
                st["repaired"] += expand.repaired - before[1]
            if sampler is not None:
                for trace in sampler.trace:
                    for action, content in trace:
                        if action in ("insert", "replace_stmt") and content is not None:
                            st["stmts"] += 1
                            st["stmt_hits"] += logo.to_text(canonical(logo.ast.Program((), (content,)))) in ref_keys
            for si, cands in enumerate(props):
                seen = set()
                texts = []
                for c in cands:
                    st["candidates"] += 1
                    try:
                        ct = canonical_text(c)
                    except (logo.LogoError, RecursionError, ValueError, TypeError):
                        continue
                    st["parse"] += 1
                    if ct in seen or ct in canon_starts:
                        continue
                    seen.add(ct)
                    texts.append(ct)
                    st["dist"].append(distance(program_tokens(starts[si]) if starts[si] else [], program_tokens(ct)))
                if not texts:
                    continue
                imgs, ok = draws(texts, size, library)
                d = scorer.distance(imgs)
                st["draw"] += int(ok.sum())
                st["new"] += len(texts)
                better = ok & (d < sdist[si])
                st["closer"] += int(better.sum())
                if better.any():
                    st["gain"].append(float(sdist[si] - d[better].min()))
                if len(st["examples"]) < 12 and texts:
                    st["examples"].append({"target": t.name, "from": starts[si], "to": texts[:3]})
    solver.close()
    print(f"{'arm':14s} {'cands':>6s} {'parse':>6s} {'new':>6s} {'draw':>6s} {'closer':>6s} {'med dist':>8s} "
          f"{'nodes improved':>14s} {'cand/cpu-s':>10s} {'in ref':>6s} {'repaired':>8s}")
    out = {}
    for arm, st in stats.items():
        c = max(st["candidates"], 1)
        row = {"candidates": st["candidates"], "parse": st["parse"] / c, "new": st["new"] / c, "draw": st["draw"] / c,
               "closer": st["closer"] / c, "median_token_distance": statistics.median(st["dist"]) if st["dist"] else None,
               "nodes_improved": len(st["gain"]), "mean_best_gain": statistics.fmean(st["gain"]) if st["gain"] else 0.0,
               "candidates_per_cpu_s": st["candidates"] / max(st["cpu_s"], 1e-9),
               "statements_in_reference": st["stmt_hits"] / st["stmts"] if st["stmts"] else None,
               "repaired": st["repaired"] / st["scripts"] if st["scripts"] else None,
               "examples": st["examples"]}
        out[arm] = row
        ref = "–" if row["statements_in_reference"] is None else f"{row['statements_in_reference']:.3f}"
        rep = "–" if row["repaired"] is None else f"{row['repaired']:.3f}"
        print(f"{arm:14s} {st['candidates']:6d} {row['parse']:6.2f} {row['new']:6.2f} {row['draw']:6.2f} "
              f"{row['closer']:6.3f} {str(row['median_token_distance']):>8s} {row['nodes_improved']:14d} "
              f"{row['candidates_per_cpu_s']:10.0f} {ref:>6s} {rep:>8s}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
