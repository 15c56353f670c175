"""Which search a round uses: the best one its checkpoint allows (one function, so `dream`, `logo run`'s
evaluation and its report agree).

Measured on the 80 DreamCoder test tasks at 5 s (issue 30): the enumerator under a fitted grammar solved 45,
the edit arms alone 29-31. So without a checkpoint the search is the enumerator (`topdown`); with a
recognition checkpoint it is the enumerator under the recognition model's grammar (the `recognition` arm,
when this build has it); with an edit model or a policy it is that arm refining enumerated start programs
(`SearchSettings.enumerated_starts`), not the model alone (`model` stays available by name). MNIST digits go
to the execution-guided `construct` arm where this build has it.
"""
from __future__ import annotations

try:        # the arms registry: dream/search/arms.py where this build has it (main), else baselines.py
    from .arms import ARMS, MODEL_ARMS
except ImportError:
    from .baselines import ARMS, MODEL_ARMS

#: `--proposer auto`: resolve by the checkpoint (`best_arm`)
AUTO = "auto"


def best_arm(checkpoint_kind: str | None, target_kind: str | None = None) -> str:
    """The arm for a checkpoint of this kind ("recognition", "edit", "policy"; None: no checkpoint); for MNIST
    digits (`target_kind` "mnist") the execution-guided `construct` arm, where this build has it."""
    if target_kind == "mnist" and "construct" in ARMS:
        return "construct"
    if checkpoint_kind == "recognition" and "recognition" in ARMS:
        return "recognition"
    if checkpoint_kind in ("edit", "policy"):
        return "model"
    return "topdown"


def needs_checkpoint(arm: str) -> bool:
    """Whether an arm name (not `auto`) searches with a network."""
    return arm in MODEL_ARMS or arm == "recognition"
