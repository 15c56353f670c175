"""The learned models and the trainer they share (`train`).

- `model.edit`: the edit model (token edit scripts from image A, target image and program A).
- `model.policy`: the edit policy (where x what heads and a grammatical subtree decoder).
- At the top, what both use: `model.train` (the `train` command) over `model.loop` (the loop; a model's
  `Recipe` says what differs), `model.step`, `model.schedule`, `model.device`, `model.checkpoint`,
  `model.plot`, `model.tokenizer`, `model.transformer` (the shared encoder and configuration fields),
  `model.examples` and `model.grammar` (the token grammar both decoders mask with).

    from model.tokenizer import Tokenizer, canonical
    from model.edit.edits import Edit, edit_script, apply_edits
    from model.checkpoint import load_latest
    from model.edit.generate import propose
"""
