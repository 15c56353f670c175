"""Recognition checkpoints: `model.checkpoint`'s files (`DIR/ckpt_{step:08d}.pt` + `DIR/latest`, written
atomically, loaded with `weights_only=True`) with `kind` "recognition" and what the network's output means:

  {"format": 1, "kind": "recognition", "step", "config": RecognitionConfig dict, "vocab": [],
   "model": state dict, "optimizer": state dict or None, "meta": dict,
   "library": library text (its `define`s; the layout's procedures, in order),
   "prior": the prior grammar (`Grammar.to_json`) it was trained with}
"""
from __future__ import annotations

from pathlib import Path

import logo
from logo.grammar_table import GrammarLayout
from logo.pcfg import Grammar, GrammarError

from .. import checkpoint as base
from .net import RecognitionConfig, RecognitionModel

KIND = "recognition"


class RecognitionCheckpointError(ValueError):
    """A file that is not a usable recognition checkpoint; the message names it and the problem."""


def library_text(library) -> str:
    return " ".join(logo.to_text(d) for d in library)


def save(out_dir, model: RecognitionModel, library, prior: Grammar, step: int, optimizer=None,
         meta: dict | None = None, keep: int = 3) -> Path:
    """Write `ckpt_{step:08d}.pt` and point `latest` at it; keep the newest `keep` checkpoints."""
    out_dir = Path(out_dir)
    state = {"format": base.FORMAT, "kind": KIND, "step": int(step), "config": model.config.to_dict(),
             "vocab": [], "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
             "optimizer": optimizer.state_dict() if optimizer is not None else None, "meta": dict(meta or {}),
             "library": library_text(library), "prior": prior.to_json()}
    path = out_dir / f"ckpt_{step:08d}.pt"
    base._atomic_write_bytes(path, base._serialized(state))
    base._atomic_write_bytes(out_dir / "latest", path.name.encode() + b"\n")
    if keep:
        for p in sorted(p for p in out_dir.iterdir() if base._CKPT.match(p.name))[:-keep]:
            if p != path:
                p.unlink(missing_ok=True)
    return path


def build(state: dict, device="cpu"):
    """(model, library Defines, prior Grammar, layout) from a loaded checkpoint state; a state that is not
    a recognition checkpoint, or whose parts disagree, is a `RecognitionCheckpointError`."""
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise RecognitionCheckpointError("not a recognition checkpoint (train one with `train --model recognition`)")
    try:
        library = logo.parse_library(state["library"])
        prior = Grammar.from_json(state["prior"])
        layout = GrammarLayout(library)
        config = RecognitionConfig.from_dict(state["config"])
        if config.layout_size != layout.size:
            raise RecognitionCheckpointError(f"the network writes {config.layout_size} weights but its library's "
                                             f"grammar has {layout.size}")
        model = RecognitionModel(config, layout.to_vector(prior))
        model.load_state_dict(state["model"])
    except RecognitionCheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, GrammarError, logo.LogoError) as e:
        raise RecognitionCheckpointError(f"damaged recognition checkpoint ({type(e).__name__}: "
                                         f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    return model.to(device).eval(), library, prior, layout


def load(path, device="cpu"):
    """(model, library, prior, layout, meta) from one checkpoint file, or a `RecognitionCheckpointError`
    naming the file."""
    try:
        state = base.load_state(path, device)
    except FileNotFoundError:
        raise RecognitionCheckpointError(f"{path}: checkpoint file does not exist") from None
    except Exception as e:  # noqa: BLE001 - torch.load fails in many ways on a damaged file
        raise RecognitionCheckpointError(f"{path}: cannot read checkpoint ({type(e).__name__})") from None
    try:
        model, library, prior, layout = build(state, device)
    except RecognitionCheckpointError as e:
        raise RecognitionCheckpointError(f"{path}: {e}") from None
    meta = {**state.get("meta", {}), "step": state["step"], "path": str(path), "kind": KIND}
    return model, library, prior, layout, meta


def load_latest(out_dir, device="cpu"):
    """`load` of the newest checkpoint in `out_dir` (a directory) or of the file `out_dir`."""
    p = Path(out_dir)
    if p.is_file():
        return load(p, device)
    path = base.latest_path(p)
    if path is None:
        raise RecognitionCheckpointError(f"{p}: no checkpoint found" if p.is_dir() else
                                         f"{p}: checkpoint directory does not exist")
    return load(path, device)
