"""The WhatsApp channel (Cloud API through pywa_async): webhooks in (``inbound``), messages laid out within
Meta's limits (``layout``), sent by the courier (``courier``) with templates outside the 24-hour window
(``templates``), and the channel as the runtime runs it (``channel``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.channels.whatsapp.channel import WhatsAppService
    from bot.settings import Settings
    from handlers.engine import Engine


def build_channel(engine: Engine, settings: Settings, *, holder: str) -> WhatsAppService:
    """The WhatsApp channel for these settings (all four WHATSAPP_ settings present)."""
    from bot.channels.whatsapp.channel import CHANNEL, WhatsAppService
    from bot.channels.whatsapp.client import build_client
    from bot.channels.whatsapp.courier import WhatsAppCourier
    from bot.health import ChannelHealth
    from scheduler.outbox import Pacer
    from scheduler.replies import DirectReplies

    assert settings.whatsapp_token and settings.whatsapp_app_secret and settings.whatsapp_verify_token
    assert settings.whatsapp_phone_id
    client = build_client(
        phone_id=settings.whatsapp_phone_id,
        token=settings.whatsapp_token.get_secret_value().strip(),
        api_url=settings.whatsapp_api_url,
    )
    health = ChannelHealth(CHANNEL, webhook=True)  # marked by the courier and the webhook, read by /readyz
    courier = WhatsAppCourier(client, health=health)
    pacer = Pacer(settings.whatsapp_limits(), channel=CHANNEL)  # the business number's limits
    return WhatsAppService(
        engine,
        client=client,
        courier=courier,
        direct=DirectReplies(engine.services, CHANNEL, courier, pacer),
        app_secret=settings.whatsapp_app_secret.get_secret_value(),
        verify_token=settings.whatsapp_verify_token.get_secret_value(),
        holder=holder,
        health=health,
    )
