"""The network statement source of digit construction (issue 31): reads (target, canvas, what is missing,
turtle) and marks where the next statement's ink should go; `dream.search.construct` ranks its candidate
statements by that map instead of the model-free one (the `construct-net` arm)."""
