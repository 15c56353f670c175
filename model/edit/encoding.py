"""Programs and edit scripts as fixed-width arrays (the model's input and target layout).

`encode_program` gives A's token ids (then END, then PAD) and each token's parenthesis depth
(`model.tokenizer.paren_depth`); `encode_script` gives an edit script's (type, token, position) columns
(then FIN, then -1 padding); `decode_script` turns such columns back into `model.edit.edits.Edit`s. See
`model.edit.net` for the layout.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .edits import DELETE, INSERT, SUBSTITUTE, Edit
from .net import DEL, FIN, INS, SUB
from ..tokenizer import Tokenizer, paren_depth

_TYPE = {INSERT: INS, DELETE: DEL, SUBSTITUTE: SUB}


def encode_program(tokenizer: Tokenizer, tokens: Sequence[str], max_tokens: int):
    """(ids (L+1,), depth (L+1,), n): A's ids then END at n then PAD; None if too long / unknown."""
    n = len(tokens)
    if n > max_tokens:
        return None
    ids = tokenizer.encode(tokens)
    if tokenizer.unk_id in ids:
        return None
    a = np.zeros(max_tokens + 1, np.int32)
    a[:n] = ids
    a[n] = tokenizer.end_id
    dep = np.zeros(max_tokens + 1, np.int8)
    dep[:n] = paren_depth(tokens)
    return a, dep, n


def encode_script(tokenizer: Tokenizer, edits: Sequence[Edit], max_edits: int):
    """(type, tok, pos) arrays of length max_edits + 1 (edits, FIN, padding -1); None if too long."""
    if len(edits) > max_edits:
        return None
    t = np.full(max_edits + 1, -1, np.int8)
    k = np.zeros(max_edits + 1, np.int32)
    p = np.zeros(max_edits + 1, np.int16)
    for i, e in enumerate(edits):
        t[i] = _TYPE[e.op]
        if e.token is not None:
            tid = tokenizer.index.get(e.token)
            if tid is None:
                return None
            k[i] = tid
        p[i] = e.pos
    t[len(edits)] = FIN
    return t, k, p


def decode_script(tokenizer: Tokenizer, e_type, e_tok, e_pos) -> list[Edit]:
    """Edit-script columns -> edits, up to the first FIN or padding."""
    out = []
    for ty, tk, ps in zip(e_type, e_tok, e_pos):
        ty = int(ty)
        if ty == FIN or ty < 0:
            break
        if ty == DEL:
            out.append(Edit(DELETE, int(ps)))
        else:
            out.append(Edit(INSERT if ty == INS else SUBSTITUTE, int(ps), tokenizer.vocab[int(tk)]))
    return out
