"""The ``ragline`` command line (typer + rich). May import anything in ragline."""
