"""Does the image-conditioned grammar pay? The enumerator under the fitted prior, the predicted and the oracle
grammar, side by side in one interleaved run (issue 29).

    python bench/recognition.py --ckpt runs/recog --tasks 80 --budget 3 --minutes 0,10,30 --out runs/bench_recognition

Arms, every target in turn (same targets, budget, start programs and library):
- `topdown`: `enumerate_for_target` under the prior grammar the solver fits (`dream.search.topdown.fit_grammar_on`);
- `recognition@Nm`: under the grammar the recognition network writes for the target, one checkpoint per
  training minute in --minutes (the checkpoint of --ckpt whose training time is the largest not above N
  minutes: the learning curve; 0 = the untrained network, which is the prior);
- `oracle`: under the prior refitted with the target's own program added to its corpus (a perfect
  recognition model's ceiling; targets with a known program only);
- `grammar`, `none`: the model-free edit arms, their enumerated start programs under the prior (the
  solver's defaults); with --starts-from-recognition also `grammar+recog`, whose starts are enumerated
  under the last checkpoint's grammar.

--db gives start programs and a library (the recognition checkpoint must have been trained with it); without
it the library is off. Prints solved per arm, the gains and losses of the last recognition checkpoint against
`topdown`, per task family the gap to the oracle, and on the tasks recognition misses which productions of
the target's program it under-weights against the oracle (summed nats); writes OUT/recognition_bench.json.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def checkpoints_by_minute(ckpt_dir: Path, minutes) -> dict[str, Path]:
    """{"recognition@Nm": checkpoint file} for each N: the latest checkpoint trained at most N minutes."""
    import torch
    from model.checkpoint import candidates
    found = []
    for p in candidates(ckpt_dir):
        st = torch.load(p, map_location="cpu", weights_only=True)
        found.append((float(st.get("meta", {}).get("elapsed_s", 0.0)), int(st["step"]), p))
    found.sort(key=lambda f: (f[0], f[1]))
    if not found:
        raise SystemExit(f"bench/recognition.py: no checkpoint in {ckpt_dir}")
    out = {}
    for m in minutes:
        ok = [f for f in found if f[0] <= m * 60 + 1e-6] or found[:1]
        e, step, p = max(ok, key=lambda f: (f[0], f[1]))
        out[f"recognition@{m:g}m"] = p
        print(f"recognition@{m:g}m: {p.name} (step {step}, {e / 60:.1f} training minutes)", flush=True)
    return out


def choice_deficits(layout, v_pred, v_oracle, program) -> list[tuple[str, float]]:
    """For each choice of `program`'s derivation: (production name, log P_oracle - log P_pred) in nats."""
    d = layout.derive(program)
    zp, zo = layout.set_logz(v_pred), layout.set_logz(v_oracle)
    lp = v_pred[d.chosen] - zp[d.choice_set]
    lo = v_oracle[d.chosen] - zo[d.choice_set]
    out = []
    for i, c in enumerate(d.chosen):
        table, ctx, prod = layout.names[c]
        out.append((f"{table} {ctx} -> {prod}", float(lo[i] - lp[i])))
    return out


def main(argv=None) -> int:
    from dream.search.settings import SearchSettings
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True, help="recognition checkpoint directory (train --model recognition --keep 0)")
    ap.add_argument("--db", default=None, help="database: start programs and library (default: none, library off)")
    ap.add_argument("--tasks", type=int, default=80, help="DreamCoder test tasks, spread over the split")
    ap.add_argument("--minutes", default="0,10,30", help="training minutes of the recognition checkpoints compared")
    ap.add_argument("--arms", default="topdown,recognition,oracle,grammar,none",
                    help="which arms (recognition stands for every checkpoint of --minutes)")
    ap.add_argument("--starts-from-recognition", action="store_true",
                    help="also `grammar+recog`: the grammar arm with starts enumerated under the predicted grammar")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/bench_recognition")
    SearchSettings.add_arguments(ap, "bench")      # --budget (seconds per target and arm), the count budget, ...
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    torch.set_num_threads(1)
    from app.solve import load_targets
    from dream.search.recognition import Recognizer
    from dream.search.solver import Solver, public, summarize
    from dream.search.topdown import grammar_corpus
    from logo.pcfg import Grammar

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    minutes = [float(m) for m in args.minutes.split(",") if m.strip()]
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    ckpts = checkpoints_by_minute(Path(args.ckpt), minutes) if "recognition" in arms else {}
    recognizers = {name: Recognizer.load(p) for name, p in ckpts.items()}
    solver = Solver.open(["grammar"], db=args.db, seed=args.seed, settings=SearchSettings.from_args(args))
    library = tuple(solver.library or ())
    for r in recognizers.values():
        r.check_library(library)
    prior = solver.grammar()
    corpus, source = grammar_corpus(solver.db, library=library)
    print(f"prior: {source}, {len(corpus)} programs; library of {len(library)} procedures", flush=True)
    size = solver.image_size
    targets = load_targets("dreamcoder", "test", size, args.tasks)[1]
    order = []
    for a in arms:
        if a == "recognition":
            order += list(recognizers)
        else:
            order.append(a)
    if args.starts_from_recognition and recognizers:
        order.append("grammar+recog")
    last = list(recognizers)[-1] if recognizers else None
    rows: dict[str, list] = {a: [] for a in order}
    analysis = []
    t0 = time.monotonic()
    for i, t in enumerate(targets):
        oracle = None
        if t.known_program:
            oracle = Grammar.fit(corpus + [t.known_program], library, source="oracle")
        for arm in order:
            solver.recognizer = None
            if arm.startswith("recognition@"):
                solver.recognizer = recognizers[arm]
                row = solver.solve_one("recognition", t, i)
            elif arm == "oracle":
                if oracle is None:
                    continue
                solver.use_grammar(oracle, library)
                row = solver.solve_one("topdown", t, i)
                solver.use_grammar(prior, library)
            elif arm == "grammar+recog":
                solver.recognizer = recognizers[last]
                row = solver.solve_one("grammar", t, i)
            else:
                row = solver.solve_one(arm, t, i)
            row["arm"] = arm
            rows[arm].append(public(row))
        rec = {"name": t.name, "family": t.extra.get("family", ""),
               "solved": {a: bool(rows[a][-1]["solved"]) for a in order if rows[a] and rows[a][-1]["name"] == t.name}}
        if t.known_program and last:
            pred = recognizers[last].grammar_for(t.image28)
            lay = recognizers[last].layout
            rec["bits"] = {"prior": round(prior.description_length(t.known_program), 2),
                           "predicted": round(pred.description_length(t.known_program), 2),
                           "oracle": round(oracle.description_length(t.known_program), 2)}
            rec["deficits"] = choice_deficits(lay, lay.to_vector(pred), lay.to_vector(oracle), t.known_program)
        analysis.append(rec)
        print(f"[{i + 1}/{len(targets)}] {t.name:28s} " + " ".join(
            f"{a}={'Y' if s else '.'}" for a, s in rec["solved"].items())
            + (f"  bits prior {rec['bits']['prior']:.1f} pred {rec['bits']['predicted']:.1f} "
               f"oracle {rec['bits']['oracle']:.1f}" if "bits" in rec else ""), flush=True)
    solver.close()

    summary = {a: summarize(r) for a, r in rows.items()}
    print(f"\n{len(targets)} DreamCoder test tasks, {solver.settings.budget_s:g} s per target and arm, library of "
          f"{len(library)} procedures ({time.monotonic() - t0:.0f} s)")
    print(f"{'arm':22s} {'solved':>8s} {'mean IoU':>9s}")
    for a, s in summary.items():
        print(f"{a:22s} {s['solved']:4d}/{s['targets']:<3d} {s['mean_iou']:9.3f}")
    report = {"budget_s": solver.settings.budget_s, "tasks": len(targets), "library": len(library), "checkpoints":
              {k: str(v) for k, v in ckpts.items()}, "summary": summary, "rows": rows}
    if last and "topdown" in rows:
        rs = {r["name"]: r["solved"] for r in rows[last]}
        ts = {r["name"]: r["solved"] for r in rows["topdown"]}
        gained = sorted(n for n in rs if rs[n] and not ts.get(n))
        lost = sorted(n for n in rs if ts.get(n) and not rs[n])
        print(f"\n{last} vs topdown: gained {len(gained)} {gained}\n  lost {len(lost)} {lost}")
        report["gained"], report["lost"] = gained, lost
    fam = defaultdict(Counter)
    for rec in analysis:
        for a, s in rec["solved"].items():
            fam[rec["family"]][a] += int(s)
        fam[rec["family"]]["n"] += 1
    show = [a for a in ("topdown", last, "oracle") if a in order]
    print("\nper family: " + " / ".join(show))
    for f, c in sorted(fam.items()):
        print(f"  {f or '?':16s} n={c['n']:3d}  " + "  ".join(f"{a} {c[a]}" for a in show)
              + (f"  gap to oracle {c['oracle'] - c[last]}" if last in show and "oracle" in show else ""))
    report["families"] = {f: dict(c) for f, c in fam.items()}
    bits = [r["bits"] for r in analysis if "bits" in r]
    if bits:
        mean = {k: round(float(np.mean([b[k] for b in bits])), 2) for k in bits[0]}
        print(f"\nmean bits of the target programs: {mean}")
        report["mean_bits"] = mean
    if last:
        miss = [r for r in analysis if "deficits" in r and not r["solved"].get(last)]
        tot = Counter()
        for r in miss:
            for name, d in r["deficits"]:
                tot[name] += d
        top = tot.most_common(15)
        print(f"\nproductions {last} under-weights against the oracle on its {len(miss)} misses (nats, summed):")
        for name, d in top:
            print(f"  {d:7.1f}  {name}")
        report["underweighted"] = top
    report["analysis"] = [{k: v for k, v in r.items() if k != "deficits"} for r in analysis]
    (out / "recognition_bench.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {out / 'recognition_bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
