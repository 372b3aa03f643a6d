"""The performance suite: ``uv run python -m benchmarks`` (not part of the test run).

Every figure is a ratio or a difference against a baseline measured on the same machine in the
same run, alternating the two so that a noisy neighbour hurts both alike.
"""
