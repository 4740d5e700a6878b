"""The Telegram channel (python-telegram-bot): updates in (``inbound``), replies laid out as Bot API calls
(``render``), those calls made and their errors sorted (``courier``), the PTB callbacks (``channel``), and
the application that runs them with the inbox, the outbox and the scheduled messages (``app``)."""

from bot.channels.telegram.app import ALLOWED_UPDATES, Lifecycle, TelegramService, Webhook, build_application
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.courier import TelegramCourier
from bot.channels.telegram.inbound import CHANNEL, Inbox, InboxBot, to_inbound
from bot.channels.telegram.render import MAX_CAPTION, MAX_TEXT, Part, markup, merge, split_text

__all__ = [
    "ALLOWED_UPDATES",
    "CHANNEL",
    "MAX_CAPTION",
    "MAX_TEXT",
    "Inbox",
    "InboxBot",
    "Lifecycle",
    "Part",
    "TelegramChannel",
    "TelegramCourier",
    "TelegramService",
    "Webhook",
    "build_application",
    "markup",
    "merge",
    "split_text",
    "to_inbound",
]
