"""`train`: train the edit model (or, with --model policy, the edit policy) on the program-image database.

    train --db runs/db.sqlite --out runs/ckpt [--model edit|policy] [--preset tiny|small|default] [--max-seconds 600]

Resumes from the latest checkpoint in --out, continuing its learning-rate cosine (`model.schedule`:
the horizon is recorded in the checkpoint; --schedule-steps/--schedule-seconds set it, --warm-restart
starts a new one); follows the database while another process inserts (re-reads new entries every
--refresh-every steps); evaluates on held-out pairs every --eval-every steps (`model.edit.evaluate`:
teacher-forced loss and token accuracy, greedy exact-script accuracy, and the rate at which the greedy
edits applied to A draw B); logs JSONL (`OUT/metrics.jsonl`), writes `OUT/training.png`, and saves
checkpoints atomically. Multi-GPU: `torchrun --nproc-per-node N -m model.train ...` (DDP).

Pairs (see `model.edit.pairs`): edit pairs between stored heads within --max-dist token edits, de novo pairs
(A empty), lateral pairs (A a stored longer equivalent of B) and mutation pairs (A a random mutation
of a stored B), and the step kinds (`model.edit.step_pairs`): far-target steps, prefix steps and, with
--hindsight LOG/found.jsonl, the steps of the search paths a dreamer logged. An entry is held out by a
hash of its id; a pair is held out when its B is.

--model policy trains the edit policy instead (`model.policy.net`: where x what heads and a grammatical
subtree decoder, one forward pass per search node) on tree-path examples (`model.policy.data`: the
first steps from a mutated, partial, neighbouring or random program toward a stored one); the pair
flags above do not apply to it, --policy-weights sets its mixture. A resumed run trains the model its
checkpoint holds.

This module is the command line (the flags and their checks); the loop it starts is `model.loop.train`.
"""
from __future__ import annotations

import argparse
import sys

from logo.cli_errors import UsageError, add_debug_flag, debug_requested, run_guarded
from . import checkpoint
from .loop import train
from .edit.pairs import KINDS
from .step import CLIP, LR, WEIGHT_DECAY


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_argument_group("data")
    src.add_argument("--db", help="program-image database (SQLite) to train on")
    src.add_argument("--random-programs", type=int, default=0,
                     help="instead of --db: train on N random programs plus the DreamCoder tasks, in memory")
    src.add_argument("--image-size", type=int, default=32, help="image size for --random-programs")
    src.add_argument("--max-dist", type=int, default=6, help="largest token edit distance of an edit pair")
    src.add_argument("--heldout", type=float, default=0.1, help="fraction of entries held out for evaluation")
    src.add_argument("--refresh-every", type=int, default=200, help="steps between reads of new database entries")
    src.add_argument("--mutations", type=int, default=1024, help="mutation pairs made per refresh")
    src.add_argument("--far-chains", type=int, default=256,
                     help="far-target mutation chains built per refresh (model.edit.step_pairs)")
    src.add_argument("--pair-weights", default=None,
                     help="pair kind mixture (default: model.edit.pairs.DEFAULT_WEIGHTS), e.g. "
                          "edit=0.25,denovo=0.1,lateral=0.05,mutation=0.15,far=0.3,prefix=0.1,hindsight=0.15")
    src.add_argument("--hindsight", default=None, metavar="LOG/found.jsonl",
                     help="dream log to follow: its search paths become hindsight pairs (model.edit.hindsight)")
    src.add_argument("--policy-weights", default=None,
                     help="policy: example kind mixture (default: model.policy.data.DEFAULT_WEIGHTS), e.g. "
                          "far=0.3,walk=0.15,prefix=0.15,neighbour=0.25,random=0.15")
    src.add_argument("--policy-examples", type=int, default=4096,
                     help="policy: examples made per refresh (every --refresh-every steps)")
    src.add_argument("--target-noise", type=float, default=0.0,
                     help="probability a training pair's target image is jittered (thicker stroke, 1-px "
                          "shift, skeleton noise; model.edit.target_noise). Default off: not yet measured to help")
    p.add_argument("--out", required=True, help="checkpoint / log directory (resumes from it)")
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=["edit", "policy", "recognition"], default=None,
                   help="which network: the edit model (default), the edit policy (model.policy.net) or the "
                        "recognition model (model.recognition: each target's grammar); "
                        "a resumed run keeps its checkpoint's")
    m.add_argument("--max-content", type=int, help="policy: longest decoded statement or expression (tokens)")
    m.add_argument("--image-encoder", choices=["cnn", "vit"], default=None,
                   help="policy: image tokens from a convolutional stem (default) or from patches")
    m.add_argument("--preset", default=None, choices=["tiny", "small", "default"],
                   help="model size (default: 'default' on CUDA, 'tiny' on the CPU)")
    m.add_argument("--d-model", type=int)
    m.add_argument("--layers", type=int, help="layers of each of the three stacks")
    m.add_argument("--heads", type=int)
    m.add_argument("--max-tokens", type=int, help="context: tokens of program A")
    m.add_argument("--max-edits", type=int, help="longest edit script (de novo pairs need about len(B))")
    m.add_argument("--vocab-capacity", type=int, help="token rows (room for library procedure names)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--batch-size", type=int, default=None,
                   help="per process (default: 128 on CUDA, 32 on the CPU)")
    o.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    o.add_argument("--max-seconds", type=float, default=0,
                   help="stop after this many seconds of --clock (0: no limit)")
    o.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="what --max-seconds, --schedule-seconds and the checkpoint's elapsed_s count: wall time, "
                        "or this process's CPU time (fair on a shared machine; with --threads 1, one core)")
    o.add_argument("--lr", type=float, default=LR)
    o.add_argument("--min-lr", type=float, default=0.05, help="final learning rate, as a fraction of --lr")
    o.add_argument("--warmup", type=int, default=500, help="linear warm-up steps")
    o.add_argument("--schedule-steps", type=int, default=None, metavar="N",
                   help="steps the cosine decay spans, counted across resumed runs; unset, a resumed run "
                        "continues its checkpoint's cosine and a new run decays over its --steps")
    o.add_argument("--schedule-seconds", type=float, default=None, metavar="S",
                   help="training seconds the cosine decay spans, counted across resumed runs; unset, a "
                        "resumed run continues its checkpoint's cosine and a new run decays over its --max-seconds")
    o.add_argument("--warm-restart", action="store_true",
                   help="start a new cosine at the resumed step (over this run's --steps/--max-seconds or "
                        "the --schedule-* flags) instead of continuing the checkpoint's")
    o.add_argument("--weight-decay", type=float, default=WEIGHT_DECAY)
    o.add_argument("--clip", type=float, default=CLIP, help="gradient norm clipping (0: none)")
    o.add_argument("--seed", type=int, default=0)
    r = p.add_argument_group("runtime")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    r.add_argument("--compile", action="store_true", help="torch.compile the model")
    r.add_argument("--background-pairs", choices=["auto", "on", "off"], default="auto",
                   help="make mutation pairs in a background thread (auto: on with CUDA)")
    r.add_argument("--no-bf16", action="store_true", help="no bf16 autocast on CUDA")
    r.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU too (on CUDA it is on by default)")
    r.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: cores - 1, at least 1)")
    r.add_argument("--eval-every", type=int, default=500)
    r.add_argument("--eval-pairs", type=int, default=128, help="held-out pairs per kind in each evaluation")
    r.add_argument("--ckpt-every", type=int, default=1000)
    r.add_argument("--log-every", type=int, default=50)
    r.add_argument("--keep", type=int, default=3, help="checkpoints kept")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--wait", type=float, default=600.0,
                   help="seconds to wait for entries when the database has none (a message each minute)")
    from .recognition.train import add_arguments as add_recognition_arguments
    add_recognition_arguments(p)
    add_debug_flag(p)
    return p


# (flag, smallest, largest): what check_args accepts; None = no bound
ARG_RANGES = (("random_programs", 0, None), ("image_size", 4, 512), ("max_dist", 0, None),
              ("heldout", 0.0, 0.9), ("refresh_every", 1, None), ("mutations", 0, None), ("far_chains", 0, None),
              ("d_model", 1, None), ("layers", 1, None), ("heads", 1, None), ("max_tokens", 1, None),
              ("max_edits", 1, None), ("vocab_capacity", 1, None), ("max_content", 5, 512),
              ("policy_examples", 1, None), ("batch_size", 1, None), ("steps", 0, None),
              ("max_seconds", 0, None), ("schedule_steps", 0, None),
              ("schedule_seconds", 0, None), ("lr", 0.0, None), ("min_lr", 0.0, 1.0), ("warmup", 0, None),
              ("weight_decay", 0.0, None), ("clip", 0.0, None), ("threads", 0, None), ("eval_every", 1, None),
              ("eval_pairs", 1, None), ("ckpt_every", 1, None), ("log_every", 1, None), ("keep", 0, None),
              ("wait", 0, None))


def check_args(args) -> argparse.Namespace:
    """`args` checked before any work: `UsageError` (exit status 2) naming the flag of an out-of-range
    number (0 steps between checkpoints, a negative batch, a NaN learning rate...); --pair-weights parsed
    into a dict and --target-noise checked (`SystemExit` with the problem)."""
    for name, lo, hi in ARG_RANGES:
        v = getattr(args, name, None)
        if v is None:
            continue
        if v != v or abs(v) == float("inf") or (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
            raise UsageError(f"--{name.replace('_', '-')}: {v} is out of range ({rng})")
    args.pair_weights = parse_pair_weights(args.pair_weights)
    args.policy_weights = parse_policy_weights(args.policy_weights)
    check_probability(args.target_noise, "--target-noise")
    return args


def parse_weights(spec: str | None, kinds, flag: str, what: str) -> dict | None:
    """"far=0.5,edit=0.5" -> {"far": 0.5, "edit": 0.5} over `kinds`; unknown kinds, bad, negative or NaN
    numbers and all-zero weights end `train` with one line naming `flag`."""
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        name, _, value = part.strip().partition("=")
        if name not in kinds:
            raise SystemExit(f"train: unknown {what} {name!r} in {flag} (kinds: {', '.join(kinds)})")
        try:
            out[name] = float(value)
        except ValueError:
            raise SystemExit(f"train: bad weight {value!r} for {name} in {flag}") from None
        if not out[name] >= 0:
            raise SystemExit(f"train: weight for {name} must not be negative")
    if not any(out.values()):
        raise SystemExit(f"train: {flag} gives every kind weight 0")
    return out


def parse_pair_weights(spec: str | None) -> dict | None:
    """--pair-weights over `model.edit.pairs.KINDS`."""
    return parse_weights(spec, KINDS, "--pair-weights", "pair kind")


def parse_policy_weights(spec: str | None) -> dict | None:
    """--policy-weights over `model.policy.data.KINDS`."""
    from .policy.data import KINDS as POLICY_KINDS
    return parse_weights(spec, POLICY_KINDS, "--policy-weights", "example kind")


def check_probability(value: float, flag: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise SystemExit(f"train: {flag} must be between 0 and 1 (got {value})")
    return value


def main(argv=None) -> int:
    """`train`: errors in the input end in one line on stderr (`logo.cli_errors`); --debug: traceback."""
    argv, debug = debug_requested(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(argv)
    from data.db import DatabaseError
    if args.model == "recognition" or (args.model is None and checkpoint.latest_kind(args.out) == "recognition"):
        from .recognition.checkpoint import RecognitionCheckpointError
        from .recognition.train import train as train_recognition
        return run_guarded("train", lambda: train_recognition(check_args(args)), debug=debug,
                           extra=(DatabaseError, checkpoint.CheckpointError, RecognitionCheckpointError), path=args.db)
    return run_guarded("train", lambda: train(check_args(args)), debug=debug,
                       extra=(DatabaseError, checkpoint.CheckpointError), path=args.db)


if __name__ == "__main__":
    sys.exit(main())
