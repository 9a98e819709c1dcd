"""The core: pure calculation, no files, no drawing."""
