"""The `recognition` arm: the network writes each target's grammar, the enumerator searches under it.

`Recognizer` holds a recognition checkpoint (`train --model recognition`, `model.recognition`): per target
one forward pass gives the log-weights of every production (`logo.grammar_table.GrammarLayout`), turned into
a `logo.pcfg.Grammar` (`grammar_for`); `dream.search.topdown.enumerate_for_target` then enumerates under it
(its own description-length bands). `dream.search.solver.Solver` runs the arm, and with a recognizer also
enumerates the edit arms' start programs under the target's grammar instead of the fitted one.

The network was trained with one library (its checkpoint records it): a solver whose library differs (other
procedures, or the library off when it was trained on) cannot use it; `check_library` says so.

`load_any(path)` reads any checkpoint file: a recognition checkpoint as a `Recognizer`, the others as
`model.checkpoint.load` does (`CheckpointWatcher` uses it, so `dream` follows a recognition trainer too).
"""
from __future__ import annotations

import time

import numpy as np

from logo.pcfg import Grammar


class Recognizer:
    """A loaded recognition checkpoint: `grammar_for(image28)` -> the target's `Grammar`."""
    kind = "recognition"

    def __init__(self, model, library, prior: Grammar, layout, meta: dict, device: str = "cpu"):
        self.model, self.library, self.prior, self.layout = model, tuple(library), prior, layout
        self.meta, self.device = meta, device
        self.calls, self.seconds = 0, 0.0
        self.config = model.config

    @classmethod
    def load(cls, ckpt, device: str = "cpu") -> "Recognizer":
        """The newest checkpoint of directory `ckpt` (or the file); `RecognitionCheckpointError` naming it."""
        from model.recognition.checkpoint import load_latest
        model, library, prior, layout, meta = load_latest(ckpt, device)
        return cls(model, library, prior, layout, meta, device)

    def eval(self) -> "Recognizer":
        self.model.eval()
        return self

    def check_library(self, library) -> None:
        """ValueError unless `library` has the procedures (names, arities, order-free) it was trained with."""
        want = sorted((d.name, len(d.params)) for d in self.library)
        got = sorted((d.name, len(d.params)) for d in library or ())
        if want != got:
            raise ValueError(f"the recognition checkpoint was trained with {len(want)} library procedure(s) "
                             f"({', '.join(n for n, _ in want) or 'none'}), the search has {len(got)} "
                             f"({', '.join(n for n, _ in got) or 'none'}): train it on this library")

    def vectors(self, images28: np.ndarray) -> np.ndarray:
        """Log-weights (n, layout size) for `images28` (n, 28, 28) uint8, one forward pass."""
        import torch
        t = time.perf_counter()
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(images28, np.uint8), device=self.device)
            out = self.model(x).double().cpu().numpy()
        self.calls += 1
        self.seconds += time.perf_counter() - t
        return out

    def grammar_for(self, image28: np.ndarray) -> Grammar:
        """The grammar the network writes for one 28x28 target."""
        return self.layout.to_grammar(self.vectors(np.asarray(image28)[None])[0],
                                      {"source": "recognition", "step": self.meta.get("step")})


def load_any(path, device: str = "cpu"):
    """(model or Recognizer, tokenizer or None, meta) from one checkpoint file of any kind."""
    from model import checkpoint as base
    state = base.load_state(path, device)
    if isinstance(state, dict) and state.get("kind") == Recognizer.kind:
        from model.recognition.checkpoint import RecognitionCheckpointError, build
        try:
            model, library, prior, layout = build(state, device)
        except RecognitionCheckpointError as e:
            raise RecognitionCheckpointError(f"{path}: {e}") from None
        meta = {**state.get("meta", {}), "step": state["step"], "path": str(path), "kind": Recognizer.kind}
        return Recognizer(model, library, prior, layout, meta, device), None, meta
    return base.from_state(state, path, device)


__all__ = ["Recognizer", "load_any"]
