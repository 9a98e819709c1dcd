"""Files: atomic writes, plan files and formats, cohort reading, writing and running."""
