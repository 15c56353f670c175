"""Train a tiny edit model on a handful of (program A, program B) pairs in seconds on a CPU.

Used by the tests (search on a tiny model and database) and for quick smoke runs; it is the real
`model.edit.net.EditModel` trained with the real loss on the real edit scripts, only small and overfit.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

import logo


def pair_batch(pairs: Sequence[tuple[str, str]], tokenizer, config) -> dict:
    """A training batch (see `model.edit.net`) holding every (A, B) pair once."""
    from model.edit.encoding import encode_program, encode_script
    from model.edit.edits import edit_script
    rows = {k: [] for k in ("a_ids", "depth", "a_len", "e_type", "e_tok", "e_pos")}
    images = []
    for a, b in pairs:
        ta = tokenizer.tokens(a) if a else []
        tb = tokenizer.tokens(b)
        enc = encode_program(tokenizer, ta, config.max_tokens)
        script = encode_script(tokenizer, edit_script(ta, tb), config.max_edits)
        if enc is None or script is None:
            raise ValueError(f"pair too long for the tiny model: {a!r} -> {b!r}")
        rows["a_ids"].append(enc[0])
        rows["depth"].append(enc[1])
        rows["a_len"].append(enc[2])
        rows["e_type"].append(script[0])
        rows["e_tok"].append(script[1])
        rows["e_pos"].append(script[2])
        img_a = logo.render(a, config.image_size) if a else np.zeros((config.image_size,) * 2, np.uint8)
        images.append(np.stack([img_a, logo.render(b, config.image_size)]))
    L = max(rows["a_len"]) + 1
    T = int(max((np.asarray(t) >= 0).sum() for t in rows["e_type"]))
    return {
        "images": torch.from_numpy(np.stack(images)),
        "a_ids": torch.from_numpy(np.stack(rows["a_ids"])[:, :L].astype(np.int64)),
        "depth": torch.from_numpy(np.stack(rows["depth"])[:, :L].astype(np.int64)),
        "a_len": torch.tensor(rows["a_len"], dtype=torch.int64),
        "e_type": torch.from_numpy(np.stack(rows["e_type"])[:, :T].astype(np.int64)),
        "e_tok": torch.from_numpy(np.stack(rows["e_tok"])[:, :T].astype(np.int64)),
        "e_pos": torch.from_numpy(np.stack(rows["e_pos"])[:, :T].astype(np.int64)),
    }


def train_tiny(pairs: Sequence[tuple[str, str]], image_size: int = 32, max_steps: int = 400, seed: int = 0,
               lr: float = 3e-3, target_loss: float = 0.02, **config_overrides):
    """Overfit a tiny EditModel on `pairs`; returns (model, tokenizer, info dict with steps and loss)."""
    from model.edit.net import EditModel, preset
    from model.step import train_step
    from model.tokenizer import Tokenizer
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # tiny matrices: one thread is fastest, and it leaves the other cores alone
    try:
        return _train(pairs, image_size, max_steps, lr, target_loss, config_overrides)
    finally:
        torch.set_num_threads(threads)


def _train(pairs, image_size, max_steps, lr, target_loss, config_overrides):
    from model.edit.net import EditModel, loss_and_metrics, preset
    from model.step import train_step
    from model.tokenizer import Tokenizer
    tokenizer = Tokenizer()
    cfg = dict(image_size=image_size, max_tokens=48, max_edits=24, d_model=64, n_heads=4, img_layers=1,
               prog_layers=1, dec_layers=2, ffn_mult=2)
    cfg.update(config_overrides)
    config = preset("tiny", **cfg)
    model = EditModel(config, len(tokenizer))
    batch = pair_batch(pairs, tokenizer, config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    loss_value, step = float("inf"), 0
    for step in range(1, max_steps + 1):
        metrics = train_step(model, opt, batch, loss_fn=loss_and_metrics)
        loss_value = float(metrics["loss"])
        if loss_value < target_loss and float(metrics["exact_tf"]) == 1.0:
            break
    model.eval()
    return model, tokenizer, {"steps": step, "loss": loss_value}
