"""`python -m bot`: the same as the `altbot` command."""

from bot.cli import main

if __name__ == "__main__":  # a guard: the chart renderer's spawned worker re-imports this
    raise SystemExit(main())
