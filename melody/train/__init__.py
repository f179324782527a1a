"""Training: the loop, the command line of train.py, the fitting at the end of a run, time budgets, run records, several processes."""
