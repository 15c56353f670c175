"""The recognition model: a network reads a target image and writes the weights of `logo.pcfg.Grammar` for
that target (DreamCoder's "bigram" recognition model); the enumerator then searches under it.

`net.py` the network and the exact log-probability of a derivation; `data.py` dreams and replays;
`train.py` the training loop behind `train --model recognition`; `checkpoint.py` its files.
"""
