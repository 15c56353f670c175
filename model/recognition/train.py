"""`train --model recognition`: train the recognition network on dreams and replays.

    train --model recognition --out runs/recog [--db DB] [--max-seconds 600 --clock cpu] [--image-encoder cnn|vit]

The library is the database's (none without --db), the prior the grammar `topdown` enumerates under
(`data.prior_grammar`: fitted on the DreamCoder train programs). Dreams are enumerated under the prior for
--dream-seconds (at most --max-dreams kept) plus the database's heads; replays are the DreamCoder and LAPS
train programs (`model.recognition.data`). Loss: -log Q(program | image), the exact log-probability of the
program's derivation under the predicted weights (`net.derivation_logp`), averaged over a batch.

Resumes from the newest checkpoint in --out (its library and prior; the dreams are made again). Logs
`OUT/metrics.jsonl`: each --log-every steps the training loss (bits per program) and examples/s; each
--eval-every the held-out bits per program of dreams and replays under the network and under the prior
(what recognition saves), and the share of held-out replays whose program got more probable.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

import logo
from logo.grammar_table import GrammarLayout

from .. import checkpoint as base
from . import checkpoint as ckpt
from .data import database_pairs, dream_pairs, drop_test_drawings, make_pools, prior_grammar, replay_pairs, sample_batch
from .net import RecognitionConfig, RecognitionModel, derivation_logp

LN2 = float(np.log(2))


def add_arguments(parser) -> None:
    """The flags only `--model recognition` reads (the rest are `train`'s)."""
    g = parser.add_argument_group("recognition (--model recognition)")
    g.add_argument("--dream-seconds", type=float, default=30.0,
                   help="recognition: seconds enumerating dreams under the prior grammar")
    g.add_argument("--max-dreams", type=int, default=50_000, help="recognition: dreams kept (a random subset)")
    g.add_argument("--dream-share", type=float, default=0.5,
                   help="recognition: share of each batch that is dreams (the rest replays)")
    g.add_argument("--no-prior", action="store_true",
                   help="recognition: the head writes the grammar alone (no learned mix with the prior)")


class Torchified:
    """A batch (`data.collate`) as tensors on `device`."""

    def __init__(self, layout: GrammarLayout, device):
        self.sets = torch.as_tensor(layout.sets, device=device)
        self.mask = torch.as_tensor(layout.set_mask, device=device)
        self.device = device

    def logp(self, model, batch: dict) -> torch.Tensor:
        images = torch.as_tensor(batch["images"], device=self.device)
        logits = model(images)
        t = {k: torch.as_tensor(batch[k], device=self.device) for k in ("chosen", "choice_set", "example")}
        return derivation_logp(logits, self.sets, self.mask, t["chosen"], t["choice_set"], t["example"],
                               len(images))


def evaluate(model, tz: Torchified, pool, prior_vec: np.ndarray, layout: GrammarLayout, limit: int = 512) -> dict:
    """Held-out bits per program under the network and under the prior, and the share made more probable."""
    from .data import collate
    n = min(len(pool), limit)
    if n == 0:
        return {}
    model.eval()
    got = []
    with torch.no_grad():
        for i in range(0, n, 256):
            j = min(n, i + 256)
            got.append(tz.logp(model, collate(pool.images[i:j], pool.derivations[i:j])).cpu().numpy())
    model.train()
    lp = np.concatenate(got)
    z = layout.set_logz(prior_vec)
    lp0 = np.array([float((prior_vec[d.chosen] - z[d.choice_set]).sum()) for d in pool.derivations[:n]])
    return {"bits": round(float(-lp.mean() / LN2), 3), "prior_bits": round(float(-lp0.mean() / LN2), 3),
            "better": round(float((lp > lp0).mean()), 3), "n": n}


def _open_library(db_path):
    if not db_path:
        return None, ()
    from data.db import open_readonly
    db = open_readonly(db_path)
    return db, logo.parse_library(db.library_text())


def train(args) -> int:
    torch.manual_seed(args.seed)
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    elif args.device in ("auto", "cpu") and not torch.cuda.is_available():
        torch.set_num_threads(1)
    device = "cuda" if args.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base.remove_stale_temp_files(out)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    state = base.load_newest_good(out, "cpu", warn=say)
    db, library = _open_library(args.db)
    step, elapsed = 0, 0.0
    if state is not None:
        model, library, prior, layout = ckpt.build(state, device)
        step, elapsed = int(state["step"]), float(state.get("meta", {}).get("elapsed_s", 0.0))
        say(f"resuming {out} at step {step} ({len(library)} library procedures)")
    else:
        prior = prior_grammar(library)
        layout = GrammarLayout(library)
        config = RecognitionConfig(encoder=args.image_encoder or "cnn", use_prior=not args.no_prior,
                                   layout_size=layout.size)
        model = RecognitionModel(config, layout.to_vector(prior)).to(device)
    model.train()
    prior_vec = layout.to_vector(prior)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if state is not None and state.get("optimizer"):
        try:
            opt.load_state_dict(state["optimizer"])
        except (ValueError, KeyError):
            say("optimizer state does not fit: Adam starts afresh")

    t0 = clock()
    dreams = dream_pairs(prior, library, args.dream_seconds, args.max_dreams, seed=args.seed)
    if db is not None:
        dreams += database_pairs(db, library)
        db.close()
    dream_s = clock() - t0
    dreams, d_test = drop_test_drawings(dreams)
    replays, r_test = drop_test_drawings(replay_pairs())
    d_train, d_held, d_skip = make_pools(layout, dreams, 0.05)
    r_train, r_held, r_skip = make_pools(layout, replays, 0.1)
    say(f"dreams {len(d_train)} (+{len(d_held)} held out, {d_skip} skipped, {d_test} drawing a DreamCoder test "
        f"task dropped) in {dream_s:.0f} s; replays {len(r_train)} (+{len(r_held)} held out, {r_skip} skipped, "
        f"{r_test} drawing a test task dropped)")
    tz = Torchified(layout, device)
    rng = np.random.default_rng(args.seed + step)
    batch = args.batch_size or 64
    log = (out / "metrics.jsonl").open("a", encoding="utf-8")

    def write(rec):
        log.write(json.dumps(rec) + "\n")
        log.flush()

    def eval_record():
        return {"step": step, "elapsed_s": round(elapsed, 1), "eval": True,
                "dreams": evaluate(model, tz, d_held, prior_vec, layout),
                "replays": evaluate(model, tz, r_held, prior_vec, layout),
                "prior_scale": round(float(model.prior_scale.detach()), 4)}

    def save():
        meta = {"elapsed_s": round(elapsed, 1), "dreams": len(d_train), "replays": len(r_train),
                "skipped": d_skip + r_skip, "dream_seconds": round(dream_s, 1)}
        return ckpt.save(out, model, library, prior, step, opt, meta, keep=args.keep)

    if step == 0:
        write({**eval_record(), "dream_s": round(dream_s, 1), "dreams_n": len(d_train), "replays_n": len(r_train),
               "skipped": d_skip + r_skip, "dropped_test_drawings": d_test + r_test})
        save()
    start_step, t_run, examples, loss_acc, n_acc = step, clock(), 0, 0.0, 0
    t_log = clock()
    while True:
        if args.steps and step - start_step >= args.steps:
            break
        if args.max_seconds and elapsed >= args.max_seconds:
            break
        t = clock()
        b = sample_batch(rng, d_train, r_train, batch, args.dream_share)
        loss = -tz.logp(model, b).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        step += 1
        elapsed += clock() - t
        examples += batch
        loss_acc += loss.item() / LN2
        n_acc += 1
        if step % args.log_every == 0:
            now = clock()
            write({"step": step, "elapsed_s": round(elapsed, 1), "train_bits": round(loss_acc / n_acc, 3),
                   "examples_per_s": round(examples / max(now - t_log, 1e-9), 1)})
            say(f"step {step}  train {loss_acc / n_acc:.2f} bits/program  {examples / max(now - t_log, 1e-9):.0f} ex/s")
            loss_acc, n_acc, examples, t_log = 0.0, 0, 0, now
        if step % args.eval_every == 0:
            rec = eval_record()
            write(rec)
            say(f"eval step {step}: dreams {rec['dreams']}  replays {rec['replays']}")
        if step % args.ckpt_every == 0:
            save()
    if step != start_step or state is None:
        write(eval_record())
        path = save()
        say(f"saved {path}")
    log.close()
    return 0
