"""Figures about batches: prices at batch rates, cost, how long batches take (stats), the steps of a batch's status
timeline, and the rate and expected finish of a running one."""
