"""``python -m gabacalc.cli``: the same command as ``gabacalc``."""

from gabacalc.cli import main

if __name__ == "__main__":  # pragma: no cover
    main(prog_name="gabacalc")
