"""`python -m bot` is the `lanjutkan` command."""

from bot.cli import main

main()
