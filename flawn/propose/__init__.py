"""Proposing the next mixtures of a sweep from its results (``flawn propose``)."""
