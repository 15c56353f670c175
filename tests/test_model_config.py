"""The networks' configurations share their common fields (`model.transformer.TokenModelConfig`) and
checkpoints written before they did (commit 4f79c50: the edit model in model/network.py, the policy in
model/policy_net.py) still load, with the same configuration and weights."""
import dataclasses
import hashlib

import torch

from model import checkpoint
from model.edit.net import EditModel, ModelConfig, preset
from model.policy.net import PolicyConfig, PolicyModel, preset as policy_preset
from model.tokenizer import Tokenizer
from model.transformer import TokenModelConfig

SHARED = ("image_size", "patch", "d_model", "n_heads", "img_layers", "prog_layers", "dec_layers", "ffn_mult",
          "max_tokens", "vocab_capacity", "dropout")

# what commit 4f79c50 wrote into a checkpoint's "config" for the tiny presets (its field order)
OLD_EDIT = {"image_size": 32, "patch": 4, "d_model": 96, "n_heads": 4, "img_layers": 2, "prog_layers": 2,
            "dec_layers": 2, "ffn_mult": 3, "max_tokens": 96, "max_edits": 48, "vocab_capacity": 256, "dropout": 0.0}
OLD_POLICY = {"image_size": 32, "patch": 4, "d_model": 96, "n_heads": 4, "img_layers": 2, "prog_layers": 2,
              "dec_layers": 2, "ffn_mult": 3, "max_tokens": 96, "max_content": 48, "vocab_capacity": 256,
              "dropout": 0.0, "image_encoder": "cnn"}
# sha256 of "name:shape;..." over the tiny networks' state dicts at 4f79c50 (16 hex digits): the parameter
# names and shapes a checkpoint of that commit holds
OLD_LAYOUT = {"edit": (145, "65fb2e2bec75596b"), "policy": (143, "cba159bbdd4a97b7")}


def layout(model) -> tuple[int, str]:
    sd = model.state_dict()
    desc = ";".join(f"{k}:{tuple(v.shape)}" for k, v in sd.items())
    return len(sd), hashlib.sha256(desc.encode()).hexdigest()[:16]


def test_the_configs_share_eleven_fields_and_keep_their_defaults():
    assert tuple(f.name for f in dataclasses.fields(TokenModelConfig)) == SHARED
    assert [f.name for f in dataclasses.fields(ModelConfig)] == [*SHARED, "max_edits"]
    assert [f.name for f in dataclasses.fields(PolicyConfig)] == [*SHARED, "max_content", "image_encoder"]
    assert ModelConfig().dec_layers == 4 and PolicyConfig().dec_layers == 3
    assert ModelConfig().max_edits == 48 and PolicyConfig().max_content == 48
    assert {f.name: f.default for f in dataclasses.fields(ModelConfig)} == {
        **{f.name: f.default for f in dataclasses.fields(TokenModelConfig)}, "max_edits": 48}


def test_old_config_dicts_round_trip():
    assert preset("tiny").to_dict() == OLD_EDIT
    assert policy_preset("tiny").to_dict() == OLD_POLICY
    assert ModelConfig.from_dict(OLD_EDIT) == preset("tiny")
    assert PolicyConfig.from_dict({**OLD_POLICY, "from_a_newer_version": 1}) == policy_preset("tiny")
    assert ModelConfig.from_dict(ModelConfig.from_dict(OLD_EDIT).to_dict()).to_dict() == OLD_EDIT


def test_the_networks_keep_the_parameter_layout_of_old_checkpoints():
    n = len(Tokenizer())
    assert layout(EditModel(preset("tiny"), n)) == OLD_LAYOUT["edit"]
    assert layout(PolicyModel(policy_preset("tiny"), n)) == OLD_LAYOUT["policy"]


def test_a_checkpoint_written_as_4f79c50_wrote_it_loads(tmp_path):
    """An edit checkpoint from before the policy (no "kind") and a policy one, written as the old code wrote
    them (its config dicts, its parameter names), load into the same networks with the same weights."""
    tok = Tokenizer()
    torch.manual_seed(0)
    for kind, old, net in (("edit", OLD_EDIT, EditModel(preset("tiny"), len(tok))),
                           ("policy", OLD_POLICY, PolicyModel(policy_preset("tiny"), len(tok)))):
        state = {"format": 1, "step": 7, "config": dict(old), "vocab": list(tok.vocab),
                 "model": {k: v.clone() for k, v in net.state_dict().items()}, "optimizer": None, "meta": {}}
        if kind == "policy":
            state["kind"] = "policy"
        path = tmp_path / f"{kind}.pt"
        torch.save(state, path)
        model, tokenizer, meta = checkpoint.load(path)
        assert type(model) is type(net) and meta["kind"] == kind and tokenizer.vocab == tok.vocab
        assert model.config.to_dict() == old
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), net.state_dict().values()))
        again = checkpoint.save(tmp_path / kind, model, tokenizer, 8)
        assert torch.load(again, weights_only=True)["config"] == old
