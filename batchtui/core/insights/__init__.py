"""Figures about batches: prices at batch rates, cost, how long batches take (stats) and the rate and expected finish of
a running one."""
