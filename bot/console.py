"""What every command of the CLI shares: the two consoles, a one-line failure, the settings read."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot.settings import Settings

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: no traceback for a configuration mistake."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings, or one line naming the first one that is wrong."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        fail(f"{name}: {first['msg']}")
    return settings
