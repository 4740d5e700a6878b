"""`lanjutkan whatsapp ...`: the WhatsApp channel's one-off tasks (its message templates)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.channels.whatsapp.templates import Template, all_templates
from bot.console import fail, load_settings

whatsapp_app = typer.Typer(help="The WhatsApp channel (Cloud API).", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True)
ALREADY_EXISTS = 2388024  # Meta's subcode (code 100) for a name and language already created


@whatsapp_app.command("templates")
def templates(
    create: Annotated[
        bool,
        typer.Option("--create", help="Create them in the WhatsApp Business Account."),
    ] = False,
) -> None:
    """List the message templates the bot sends outside the 24-hour window; --create submits them."""
    if not create:
        for template in all_templates():
            _print(template)
        return
    settings = load_settings()
    missing = [
        name
        for name, value in (
            ("WHATSAPP_TOKEN", settings.whatsapp_token),
            ("WHATSAPP_WABA_ID", settings.whatsapp_waba_id),
        )
        if value is None
    ]
    if missing:
        fail(f"--create needs {' and '.join(missing)} (not set)")
    assert settings.whatsapp_token is not None and settings.whatsapp_waba_id is not None
    failed = asyncio.run(
        _create(
            token=settings.whatsapp_token.get_secret_value(),
            waba_id=settings.whatsapp_waba_id,
            api_url=settings.whatsapp_api_url,
        )
    )
    if failed:
        raise typer.Exit(1)


def _print(template: Template) -> None:
    out.print(f"[bold]{escape(template.name)}[/] ({template.language}, {template.category})")
    out.print(f"  {escape(template.body)}")
    out.print(f"  button: {escape(template.button)}")


async def _create(*, token: str, waba_id: str, api_url: str) -> int:
    """Submit every template; print each outcome; the number that failed."""
    from pywa_async import errors

    from bot.channels.whatsapp.client import build_client
    from bot.channels.whatsapp.templates import as_pywa

    client = build_client(phone_id=None, token=token, api_url=api_url, waba_id=waba_id)
    failed = 0
    try:
        for template in all_templates():
            name = escape(template.name)
            try:
                created = await client.create_template(as_pywa(template), waba_id=waba_id)
            except errors.WhatsAppError as error:
                if error.subcode == ALREADY_EXISTS:
                    out.print(f"{name}: already exists")
                    continue
                failed += 1
                out.print(f"{name}: [red]error {error.code}[/]: {escape(error.message)}")
            except Exception as error:  # the network: the rest would fail alike
                failed += 1
                out.print(f"{name}: [red]error[/]: {type(error).__name__}")
            else:
                out.print(f"{name}: created (id {escape(str(created.id))}, {escape(str(created.status))})")
    finally:
        await client.api._session.aclose()
    return failed
