"""The edit model: canonical token edit scripts from (image A, target image, program A); its network
(`net`), decoding (`generate`, under the whole-program `grammar`), training pairs (`pairs`, `step_pairs`,
`steps`, `hindsight`, `mutations`, `target_noise`), held-out evaluation (`evaluate`) and training recipe
(`train`)."""
