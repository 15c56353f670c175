"""The model side of the search: turn a checkpoint into an `expand` callable, and watch for newer checkpoints.

`ModelProposer(model, tokenizer, device, samples, temperatures)` is a `dream.search.frontier.Proposer`, the search's `expand`:
for each (image_a, image_b, program_a) it asks `model.edit.generate.propose` for `samples` edit scripts at each
temperature in `temperatures` (temperature 0 = one greedy script) and, with `beam` > 0, the `beam`
best scripts of a beam search (`model.edit.generate`; deterministic, so only the first time a program is
expanded towards a target), applies them to program_a's canonical tokens (`model.edit.edits.apply_edits`)
and returns the resulting program texts (scripts that are not well-formed for program_a are dropped).

Grammatical output (item 5 of issue 19): with `grammatical=True` (the default) the decoder keeps a parser
state per row and step (`model.edit.grammar`) and masks every action and position that would leave the
program ungrammatical, so every script it writes gives a program that parses; the rare row that reaches its
last step unfinished (or whose program A the grammar does not accept) is finished by
`ScriptGrammar.repair`, counted in `repaired` out of `proposed`. Repair may add the tokens a cut script needs,
so a repaired program can lie further than `max_edits` from program A (the cap bounds the decoding); kept,
since they drew closer to the target more often than the rest (26.5 % against 15.9 %, 20 DreamCoder test
tasks, the 30-minute checkpoint of the README). `grammatical=False` is the old free
decoding (about a third of its scripts did not parse): the `model-unmasked` arm (`free()`), its baseline.

Speed: every script is capped at `max_edits` edits (default `MAX_PROPOSAL_EDITS` = 16: a grammatical
step is a statement or sub-expression; 83% of the far-target steps the model trains on fit, and
`model.edit.steps.far_chains` makes no longer ones), so an untrained or unsure model cannot spend a call
decoding 48 edits; sampling stops as soon as every script has finished; all nodes of a search round
go through the decoder in one batch per temperature; beam search decodes on the KV cache.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np


class CheckpointMissing(FileNotFoundError):
    """No loadable checkpoint in the directory (the message names it)."""


MAX_PROPOSAL_EDITS = 16


class ModelProposer:
    def __init__(self, model, tokenizer, device="cpu", samples: int = 8,
                 temperatures: Sequence[float] = (1.0,), beam: int = 0, max_edits: int = MAX_PROPOSAL_EDITS,
                 grammatical: bool = True, library: Sequence = ()):
        if max_edits < 1:
            raise ValueError(f"max_edits must be at least 1 (got {max_edits})")
        self.model = model
        self.library = tuple(library or ())
        self.grammar = None
        if grammatical:
            from model.edit.grammar import ScriptGrammar
            self.grammar = ScriptGrammar(tokenizer, library or ())
        #: scripts turned into programs, and how many of those `ScriptGrammar.repair` had to finish
        self.proposed = self.repaired = 0
        self.max_edits = max_edits
        self.beam = beam
        self.tokenizer = tokenizer
        self.device = device
        self.samples = samples
        self.temperatures = tuple(temperatures)
        #: programs longer than the model's context (its checkpoint's config) cannot be edited; the search skips them
        self.max_tokens: int = model.config.max_tokens
        # beam search is deterministic: each (program, target) pair is beamed once; re-expansions sample
        self._beamed: set = set()

    def reset(self) -> None:
        """Forget which (program, target) pairs were beamed: a new search beams them again."""
        self._beamed.clear()

    def free(self) -> "ModelProposer":
        """This proposer decoding freely (no grammar masks): the `model-unmasked` arm, the grammatical
        decoder's baseline."""
        return ModelProposer(self.model, self.tokenizer, self.device, self.samples, self.temperatures, self.beam,
                             self.max_edits, grammatical=False, library=self.library)

    def __call__(self, images_a: np.ndarray, images_b: np.ndarray, programs_a: list[str]) -> list[list[str]]:
        from model.edit.edits import EditError, apply_edits
        from model.edit.generate import propose
        tokens_a = [self.tokenizer.tokens(p) if p else [] for p in programs_a]
        out: list[list[str]] = [[] for _ in programs_a]
        batches = []
        if self.beam > 0:
            from model.edit.generate import beam_propose
            keys = [(p, hash(np.asarray(b).tobytes())) for p, b in zip(programs_a, images_b)]
            todo = [k for k, key in enumerate(keys) if key not in self._beamed]
            if todo:
                if len(self._beamed) > 100_000:
                    self._beamed.clear()
                self._beamed.update(keys[k] for k in todo)
                got = beam_propose(self.model, self.tokenizer, np.asarray(images_a)[todo], np.asarray(images_b)[todo],
                                   [programs_a[k] for k in todo], self.beam, device=self.device,
                                   max_edits=self.max_edits, grammar=self.grammar)
                full: list[list] = [[] for _ in programs_a]
                for k, scripts in zip(todo, got):
                    full[k] = scripts
                batches.append(full)
        for temperature in self.temperatures:
            n = self.samples if temperature > 0 else 1   # greedy decoding gives one script
            batches.append(propose(self.model, self.tokenizer, images_a, images_b, programs_a, n, temperature,
                                   self.device, max_edits=self.max_edits, grammar=self.grammar))
        for scripts in batches:
            for k, per_input in enumerate(scripts):
                for script in per_input:
                    try:
                        tokens = apply_edits(tokens_a[k], script)
                    except (EditError, ValueError, IndexError):
                        continue
                    if self.grammar is not None:
                        tokens = self._grammatical(tokens)
                    self.proposed += 1
                    out[k].append(" ".join(tokens))
        return out

    def _grammatical(self, tokens: list[str]) -> list[str]:
        """The program the grammar accepts: `tokens` when the masks kept it so (almost always), else repaired."""
        g = self.grammar
        ids, changed = g.repair(g.ids(tokens))
        if not changed:
            return tokens
        self.repaired += 1
        return [self.tokenizer.vocab[i] for i in ids]


def resolve_device(device: str | None = "auto") -> str:
    if device in (None, "", "auto"):
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _signature(directory: Path):
    """Which checkpoint is newest, cheaply: (path, size, mtime) of the file `latest` points at, or None."""
    from model.checkpoint import latest_path
    try:
        path = latest_path(directory)
        if path is None:
            return None
        st = path.stat()
    except OSError:     # a checkpoint replaced or removed while we looked: try again at the next poll
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


class CheckpointWatcher:
    """Holds the newest checkpoint of a directory and reloads it when the directory changes.

    `poll()` looks at which checkpoint is newest (`model.checkpoint.latest_path`, a cheap look-up; the
    trainer's logs in the same directory do not count) and, when that changed, loads it; it returns
    True when a different checkpoint was loaded.
    `meta` identifies the loaded checkpoint (its `step`, or whatever the trainer stored).
    """

    def __init__(self, directory: str | Path, device: str = "cpu", min_interval_s: float = 2.0):
        self.directory = Path(directory)
        self.device = device
        self.min_interval_s = min_interval_s
        self.model = self.tokenizer = self.meta = None
        self._sig = None
        self._last_poll = -1e9
        self.loads = 0
        self.last_error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.model is not None

    def poll(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self._last_poll < self.min_interval_s:
            return False
        self._last_poll = now
        sig = _signature(self.directory)
        if sig is None or sig == self._sig:     # nothing there, or the checkpoint already loaded
            return False
        from .recognition import load_any          # any kind of checkpoint (a recognition one: a Recognizer)
        try:
            model, tokenizer, meta = load_any(sig[0], self.device)
        except Exception as e:  # noqa: BLE001 - a corrupt or half-rotated checkpoint must not kill the caller
            self.last_error = f"{sig[0]}: {type(e).__name__}: {e}"
            return False
        self._sig = sig
        self.model, self.tokenizer, self.meta = model, tokenizer, meta
        if hasattr(self.model, "eval"):
            self.model.eval()
        self.loads += 1
        return True

    def require(self) -> None:
        """Load now; raise `CheckpointMissing` naming the directory if there is nothing to load."""
        if not self.loaded:
            self.poll(force=True)
        if not self.loaded:
            if not self.directory.exists():
                raise CheckpointMissing(f"{self.directory}: checkpoint directory does not exist")
            if self.last_error:
                raise CheckpointMissing(f"cannot load checkpoint {self.last_error}")
            raise CheckpointMissing(f"{self.directory}: no checkpoint found (train one with `train`)")

    @property
    def kind(self) -> str:
        """Which network the loaded checkpoint holds: "edit", "policy" or "recognition"."""
        return getattr(self.model, "kind", "edit")

    def proposer(self, samples: int = 8, temperatures: Sequence[float] = (1.0,), beam: int = 0,
                 max_edits: int = MAX_PROPOSAL_EDITS, policy_k: int | None = None, policy_eps: float | None = None,
                 library: Sequence = ()):
        """The checkpoint's proposer: a `ModelProposer` for an edit model; for a policy checkpoint the
        `dream.search.policy.PolicyArms` (a proposer of its `policy` arm, and the maker of the others)."""
        self.require()
        if self.kind == "recognition":
            raise CheckpointMissing(f"{self.directory} holds a recognition model (it writes grammars, not edits): "
                                    "use it with the arm 'recognition', or give an edit or policy checkpoint")
        if self.kind == "policy":
            from .policy import PolicyArms
            given = {"k": policy_k, "eps": policy_eps}
            return PolicyArms(self.model, self.tokenizer, self.device, **{k: v for k, v in given.items() if v is not None})
        return ModelProposer(self.model, self.tokenizer, self.device, samples, temperatures, beam, max_edits,
                             library=library)

    def describe(self) -> dict:
        meta = self.meta if isinstance(self.meta, dict) else {}
        return {k: meta[k] for k in ("step", "path", "created") if k in meta and _jsonable(meta[k])}


def _jsonable(x) -> bool:
    return isinstance(x, (int, float, str, bool)) or x is None
