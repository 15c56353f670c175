"""Optimizer set-up: which parameters are decayed, resuming older optimizer state, unwrapping models."""
import torch
import torch.nn as nn

from model.edit.net import EditModel, ModelConfig
from model.transformer import unwrap
from model.checkpoint import regroup_optimizer_state


def tiny_model():
    torch.manual_seed(0)
    cfg = ModelConfig(image_size=16, patch=4, d_model=16, n_heads=2, img_layers=1, prog_layers=1, dec_layers=1,
                      max_tokens=8, max_edits=4, vocab_capacity=64)
    return EditModel(cfg, 40)


def test_weight_decay_only_on_linear_and_conv_weights():
    model = tiny_model()
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["lr"] == 1e-3
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    names = {id(p): n for n, p in model.named_parameters()}
    # every parameter exactly once
    assert ids(decay["params"]).isdisjoint(ids(no_decay["params"]))
    assert ids(decay["params"]) | ids(no_decay["params"]) == ids(model.parameters())
    want_decay = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))}
    assert ids(decay["params"]) == want_decay
    undecayed = {names[i] for i in ids(no_decay["params"])}
    assert {"tok_emb.weight", "step_pos.weight", "img_pos", "bos", "dec_norm.weight", "dec_norm.bias",
            "type_head.bias"} <= undecayed
    assert all(p.ndim >= 2 for p in decay["params"])


def test_old_single_group_optimizer_state_is_regrouped():
    model = tiny_model()
    old = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    old.step()
    saved = old.state_dict()
    opt = model.configure_optimizers(0.01, 1e-3, (0.9, 0.98), "cpu")
    opt.load_state_dict(regroup_optimizer_state(saved, opt, model))
    for p in model.parameters():
        assert torch.equal(opt.state[p]["exp_avg"], old.state[p]["exp_avg"])
    assert [g["weight_decay"] for g in opt.param_groups] == [0.01, 0.0]
    # a state that already has the groups passes through unchanged
    assert regroup_optimizer_state(opt.state_dict(), opt, model)["param_groups"] == opt.state_dict()["param_groups"]


def test_unwrap_reaches_the_model_through_wrappers():
    model = tiny_model()

    class Compiled(nn.Module):          # what torch.compile's wrapper exposes: `_orig_mod`
        def __init__(self, m):
            super().__init__()
            self._orig_mod = m

    assert unwrap(model) is model
    assert unwrap(Compiled(model)) is model
