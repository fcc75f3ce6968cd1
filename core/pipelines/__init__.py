"""The long jobs, each written once for the command line, the app and the scripts: generators
of typed events (`events`) that a caller drives, shows, and may stop between any two of them by
closing the generator.

- `training`: set up a run (preset, corpus, steps, seed, device, or resume) and train it
- `pruning`: prune a model to a task's circuit, with or without the faithfulness checks
- `effects`: each node's effect on the model's answer when it alone is mean-ablated
- `sampling`: every node's activations over a slice of the corpus, for the node inspector
- `opening`: a model and its mean activations, opened for circuit work
- `selftest`: what `--self-test` trains and measures

The CLI wraps them in progress bars; the app runs them in its worker threads.
"""
