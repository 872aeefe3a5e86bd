"""Simulator and strategy lab: scenarios, queueing theory, replications and confidence intervals on a virtual clock."""
