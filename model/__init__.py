"""The edit model: canonical tokens, token edit scripts, the network, decoding, checkpoints, training.

    from model.tokenizer import Tokenizer, canonical
    from model.edit.edits import Edit, edit_script, apply_edits
    from model.checkpoint import load_latest
    from model.edit.generate import propose
"""
