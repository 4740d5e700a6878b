"""Texts with choices laid out as WhatsApp messages: every message within Meta's limits, every choice
offered exactly once and in order, the text kept whole (bot/channels/whatsapp/layout.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.whatsapp.layout import (
    BODY,
    BODY_WITH_BUTTONS,
    BUTTON_TITLE,
    LIST_BUTTON,
    LIST_ROWS,
    MAX_BUTTONS,
    ROW_DESCRIPTION,
    ROW_TITLE,
    Buttons,
    Choice,
    ChoiceList,
    Message,
    Text,
    lay_out,
)
from models.rules.categories import CATEGORIES

labels = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=120)


def offered(messages: list[Message]) -> list[str]:
    """The choice ids the messages offer, in order."""
    ids: list[str] = []
    for message in messages:
        if isinstance(message, Buttons):
            ids += [b.id for b in message.buttons]
        elif isinstance(message, ChoiceList):
            ids += [r.id for r in message.rows]
    return ids


def within_limits(message: Message) -> bool:
    if isinstance(message, Text):
        return 0 < len(message.body) <= BODY or message.body == ""
    if isinstance(message, Buttons):
        titles = [b.label for b in message.buttons]
        return (
            0 < len(message.body) <= BODY_WITH_BUTTONS
            and 1 <= len(titles) <= MAX_BUTTONS
            and all(0 < len(t) <= BUTTON_TITLE for t in titles)
            and len(set(titles)) == len(titles)
        )
    return (
        0 < len(message.body) <= BODY
        and 0 < len(message.button) <= LIST_BUTTON
        and 1 <= len(message.rows) <= LIST_ROWS
        and all(0 < len(r.title) <= ROW_TITLE for r in message.rows)
        and all(r.description is None or len(r.description) <= ROW_DESCRIPTION for r in message.rows)
    )


@given(
    text=st.text(min_size=1, max_size=9000),
    names=st.lists(labels, max_size=35),
)
def test_any_text_and_choices_fit_and_nothing_is_lost(text, names):
    choices = [Choice(f"c:{i}", name) for i, name in enumerate(names)]

    messages = lay_out(text, choices)

    assert all(within_limits(m) for m in messages), messages
    assert offered(messages) == [c.id for c in choices]
    if not choices:
        assert all(isinstance(m, Text) for m in messages)


def test_the_eleven_categories_are_two_lists_of_six_and_five():
    choices = [Choice(str(i), c.label.capitalize()) for i, c in enumerate(CATEGORIES)]

    first, second = lay_out("4/6 · Kategori pekerjaan:", choices)

    assert isinstance(first, ChoiceList)
    assert isinstance(second, ChoiceList)
    assert (len(first.rows), len(second.rows)) == (6, 5)
    assert first.body == "4/6 · Kategori pekerjaan:"
    assert second.body == "Pilihan lainnya (2/2):"
    assert [r.title for r in second.rows][-2] == "Pekerja sosial keagamaan"  # 24: fits whole


def test_a_button_label_over_twenty_characters_makes_a_list_with_the_label_whole():
    choices = [
        Choice("i:ok", "✅ Benar"),
        Choice("i:birth", "✏️ Ubah tanggal lahir"),
        Choice("i:g", "✏️ Ubah kelamin"),
    ]
    assert len("✏️ Ubah tanggal lahir") == 21

    (message,) = lay_out("3/6 · Tanggal lahir: 15 Agustus 1990. Sudah benar?", choices)

    assert isinstance(message, ChoiceList)
    assert [r.title for r in message.rows] == ["✅ Benar", "✏️ Ubah tanggal lahir", "✏️ Ubah kelamin"]


def test_up_to_three_short_choices_are_reply_buttons():
    choices = [
        Choice("d:1:ok", "✅ Setujui"),
        Choice("d:1:no", "❌ Tolak"),
        Choice("d:1:back", "↩️ Kembalikan"),
    ]

    (message,) = lay_out("📋 Usulan U-00001", choices)

    assert isinstance(message, Buttons)
    assert [b.id for b in message.buttons] == ["d:1:ok", "d:1:no", "d:1:back"]


def test_a_long_label_is_shortened_at_a_word_and_given_whole_as_description():
    label = "Sudah bekerja dengan upah atau punya jaminan lain"
    (message,) = lay_out("Alasan:", [Choice("r:1", label), *(Choice(f"r:{i}", "x") for i in range(2, 5))])

    assert isinstance(message, ChoiceList)
    first = message.rows[0]
    assert first.title == "Sudah bekerja dengan…"
    assert first.description == label


def test_a_card_longer_than_a_button_message_goes_first_as_text():
    text = "\n".join(f"baris {i:04d} " + "x" * 40 for i in range(40))  # about 2.000 characters
    messages = lay_out(text, [Choice("d:1:ok", "✅ Setujui")])

    *before, last = messages
    assert before
    assert all(isinstance(m, Text) for m in before)
    assert isinstance(last, Buttons)
    assert "\n".join([*(m.body for m in before if isinstance(m, Text)), last.body]) == text
