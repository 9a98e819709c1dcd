"""The gabacalc commands, one module per kind: plans, the cohort, the examples and tables."""
