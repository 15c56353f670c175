"""Checkpoints: `DIR/ckpt_{step:08d}.pt` plus a `DIR/latest` pointer, both written atomically.

A checkpoint holds only tensors, dicts, lists, strings and numbers, so it loads with
`torch.load(path, weights_only=True)`:
  {"format": 1, "kind": "edit" | "policy", "step": int, "config": ModelConfig / PolicyConfig dict,
   "vocab": [tokens], "model": state dict, "optimizer": state dict or None, "meta": dict}
`kind` says which network it holds (`model.edit.net.EditModel`, `model.policy.net.PolicyModel`); a
checkpoint without one (written before the policy existed) holds the edit model.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import torch

from logo.files import atomic_write

from .transformer import TokenModel, unwrap
from .tokenizer import Tokenizer

FORMAT = 1
_CKPT = re.compile(r"ckpt_(\d{8})\.pt$")
# what `logo.files.atomic_write` leaves behind when the process dies mid-write
_TEMP = re.compile(r"^\.(ckpt_\d{8}\.pt|latest)\..+\.tmp$")
_KEYS = ("step", "config", "vocab", "model")


class CheckpointError(Exception):
    """No usable checkpoint although checkpoints exist (every one is damaged); the message names them."""


def _atomic_write_bytes(path: Path, data) -> None:
    with atomic_write(path) as f:
        f.write(data)


def _serialized(state: dict) -> memoryview:
    """`state` as torch.save writes it, in memory: written to a file, torch turns a failed write (a full
    disk) into an unhelpful RuntimeError; written from memory, the OSError names the file."""
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getbuffer()


def save(out_dir, model: TokenModel, tokenizer: Tokenizer, step: int, optimizer=None, meta: dict | None = None,
         keep: int = 3) -> Path:
    """Write `ckpt_{step:08d}.pt` and point `latest` at it; keep the newest `keep` checkpoints."""
    out_dir = Path(out_dir)
    core = unwrap(model)
    state = {
        "format": FORMAT,
        "kind": getattr(core, "kind", "edit"),
        "step": int(step),
        "config": core.config.to_dict(),
        "vocab": list(tokenizer.vocab),
        "model": {k: v.detach().cpu() for k, v in core.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "meta": dict(meta or {}),
    }
    path = out_dir / f"ckpt_{step:08d}.pt"
    _atomic_write_bytes(path, _serialized(state))
    _atomic_write_bytes(out_dir / "latest", path.name.encode() + b"\n")
    if keep:
        old = sorted(p for p in out_dir.iterdir() if _CKPT.match(p.name))[:-keep]
        for p in old:
            if p != path:
                p.unlink(missing_ok=True)
    return path


def latest_path(out_dir) -> Path | None:
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    pointer = out_dir / "latest"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):      # missing or damaged pointer: the newest file counts
        name = ""
    if _CKPT.match(name) and (out_dir / name).is_file():
        return out_dir / name
    found = sorted(p for p in out_dir.iterdir() if _CKPT.match(p.name))
    return found[-1] if found else None


def load_state(path, device="cpu") -> dict:
    return torch.load(path, map_location=device, weights_only=True)


#: the kinds of network a checkpoint may hold
KINDS = ("edit", "policy")


def kind_of(state: dict) -> str:
    """Which network a checkpoint holds: "edit" (also checkpoints without a kind) or "policy"."""
    kind = state.get("kind", "edit")
    if kind == "recognition":
        raise ValueError("this is a recognition checkpoint (train --model recognition): it writes grammars, not "
                         "edits; use it with the arm 'recognition'")
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r} in the checkpoint")
    return kind


def network_classes(kind: str) -> tuple[type, type]:
    """(configuration class, network class) of a kind of `KINDS` (imported when first asked for)."""
    if kind == "policy":
        from .policy.net import PolicyConfig, PolicyModel
        return PolicyConfig, PolicyModel
    from .edit.net import EditModel, ModelConfig
    return ModelConfig, EditModel


def build(state: dict, device="cpu") -> tuple[TokenModel, Tokenizer]:
    """The checkpoint's network (an `EditModel` or a `PolicyModel`, by its kind) and tokenizer."""
    tokenizer = Tokenizer(state["vocab"])
    config_class, network_class = network_classes(kind_of(state))
    model = network_class(config_class.from_dict(state["config"]), len(tokenizer))
    model.load_state_dict(state["model"])
    model.set_vocab_size(len(tokenizer))
    return model.to(device).eval(), tokenizer


def load(path, device="cpu"):
    """(model, tokenizer, meta) from one checkpoint file; meta has step, config and the saved meta."""
    return from_state(load_state(path, device), path, device)


def from_state(state: dict, path, device="cpu"):
    """`load`'s (model, tokenizer, meta) from a state already read from `path`."""
    model, tok = build(state, device)
    meta = {**state.get("meta", {}), "step": state["step"], "config": state["config"], "path": str(path),
            "kind": kind_of(state)}
    return model, tok, meta


def latest_kind(out_dir) -> str | None:
    """The kind of the newest checkpoint in `out_dir` (None without one, or when it does not load)."""
    path = latest_path(out_dir)
    if path is None:
        return None
    try:
        state = load_state(path)
    except Exception:  # noqa: BLE001 - a damaged file: `train` reports it when it resumes
        return None
    return state.get("kind", "edit") if isinstance(state, dict) else None


def load_latest(out_dir, device="cpu"):
    """(model, tokenizer, meta) from the newest checkpoint in `out_dir`, or None if there is none."""
    path = latest_path(out_dir)
    if path is None:
        return None
    return load(path, device)


def remove_stale_temp_files(out_dir) -> list[Path]:
    """Delete the temporary files of checkpoint writes that a crash interrupted (`.ckpt_*.pt.*.tmp`,
    `.latest.*.tmp`, up to a checkpoint each). Call it only where no other process is saving into
    `out_dir` (train, at its start). Returns the removed paths."""
    out_dir = Path(out_dir)
    removed = []
    if out_dir.is_dir():
        for p in out_dir.iterdir():
            if _TEMP.match(p.name) and p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def candidates(out_dir) -> list[Path]:
    """The checkpoints of `out_dir`, the one `latest` points at first, then the others newest first."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = sorted((p for p in out_dir.iterdir() if _CKPT.match(p.name)), reverse=True)
    first = latest_path(out_dir)
    return ([first] if first is not None else []) + [p for p in found if p != first]


def load_newest_good(out_dir, device="cpu", warn=None) -> dict | None:
    """The state of the newest checkpoint that loads, or None if there is no checkpoint at all.

    A damaged checkpoint (truncated, corrupt, not a checkpoint) is skipped with `warn(message)` and
    the previous one is used; `CheckpointError` if every checkpoint is damaged."""
    tried = []
    for path in candidates(out_dir):
        try:
            state = load_state(path, device)
            if not isinstance(state, dict) or any(k not in state for k in _KEYS):
                raise ValueError("not a checkpoint of this project")
        except Exception as e:        # noqa: BLE001 - torch.load fails in many ways on a damaged file
            tried.append(f"{path.name} ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})")
            if warn is not None:
                warn(f"{path}: damaged checkpoint skipped ({type(e).__name__}); trying the previous one")
            continue
        if tried and warn is not None:
            warn(f"resuming from {path} instead")
        return state
    if tried:
        raise CheckpointError(f"{out_dir}: no checkpoint can be loaded: {'; '.join(tried)}")
    return None


def regroup_optimizer_state(saved: dict, opt: torch.optim.Optimizer, model: torch.nn.Module) -> dict:
    """An optimizer state saved with one parameter group (checkpoints from before
    `EditModel.configure_optimizers`: the parameters in `model.parameters()` order) laid out in
    `opt`'s groups, so older runs resume with their Adam moments; any other state is returned as is."""
    groups = opt.state_dict()["param_groups"]
    if len(saved.get("param_groups", ())) != 1 or len(groups) == 1:
        return saved
    old_index = {id(p): i for i, p in enumerate(model.parameters())}
    if len(saved["param_groups"][0]["params"]) != len(old_index):
        return saved
    state, new_i = {}, 0
    for g in opt.param_groups:
        for p in g["params"]:
            old = old_index[id(p)]
            if old in saved["state"]:
                state[new_i] = saved["state"][old]
            new_i += 1
    return {"state": state, "param_groups": groups}
