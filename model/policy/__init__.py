"""The edit policy: one forward pass per search node gives where x what scores and a subtree decoder
(`net`); its action space (`actions`), tree-path examples (`data`), sampling (`sample`) and training recipe
(`train`)."""
