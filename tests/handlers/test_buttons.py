"""The button-data codec: every kind round-trips, anything else decodes to None, and every button the flows
make is one the codec reads back (within 64 bytes, no NIK)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import buttons
from handlers.buttons import MAX_BYTES, Kind, Press, decode, encode
from models.rules.ids import MAX_ID
from scheduler.outbox import Outbox
from tests.conftest import synthetic_nik
from tests.fakebotapi import FakeBotApi
from tests.handlers.test_approval import (  # noqa: F401  (people: a fixture, used by name)
    JONSON,
    MARIA,
    RINA,
    _edited_message,
    last_card,
    people,
    propose,
)

ref_ids = st.integers(min_value=0, max_value=999_999_999)  # <ref>: at most 9 digits
versions = st.none() | st.integers(min_value=0, max_value=9999)
pages = st.integers(min_value=0, max_value=MAX_ID)
words = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=16
)
tokens = st.text(alphabet="0123456789abcdef", min_size=1, max_size=8)

presses = st.one_of(
    st.builds(lambda t, s, v: Press(Kind.INTAKE, action=v, token=t, step=s), tokens, words, words),
    st.builds(
        lambda k, i, v, a: Press(k, action=a, id=i, version=v),
        st.sampled_from([Kind.DECIDE, Kind.REASON, Kind.FIX_FIELD]),
        ref_ids,
        versions,
        words,
    ),
    st.builds(lambda p: Press(Kind.QUEUE, id=p), pages),
    st.just(Press(Kind.QUEUE, action=buttons.QUEUE_NEW)),
    st.builds(lambda i, v: Press(Kind.OPEN, id=i, version=v), ref_ids, versions),
    st.just(Press(Kind.OPEN, action=buttons.OPEN_NEXT)),
    st.builds(lambda a: Press(Kind.BULK, action=a), st.sampled_from(["ask", "go", "no"])),
    st.builds(lambda a: Press(Kind.EXPORT, action=a), st.sampled_from(["bpjs", "lampiran", "usulan"])),
    st.builds(lambda p: Press(Kind.FIX, id=p), pages),
)


@given(presses)
def test_every_kind_round_trips_within_the_limit(press: Press):
    data = encode(press)
    assert decode(data) == press
    assert len(data.encode()) <= MAX_BYTES
    assert data.partition(":")[0] == press.kind.value


# Today's wire format, exactly: cards already sent in chats must keep working after a deploy.
RECORDED = {
    "i:ab12cd:summary:send": Press(Kind.INTAKE, action="send", token="ab12cd", step="summary"),
    "i:ab12cd:birth_date:back": Press(Kind.INTAKE, action="back", token="ab12cd", step="birth_date"),
    "d:42:ok": Press(Kind.DECIDE, action="ok", id=42),
    "d:42.1:nik": Press(Kind.DECIDE, action="nik", id=42, version=1),
    "r:7.0:lain": Press(Kind.REASON, action="lain", id=7, version=0),
    "f:7.0:skip": Press(Kind.FIX_FIELD, action="skip", id=7, version=0),
    "q:3": Press(Kind.QUEUE, id=3),
    "q:new": Press(Kind.QUEUE, action="new"),
    "o:5": Press(Kind.OPEN, id=5),
    "o:next": Press(Kind.OPEN, action="next"),
    "b:ask": Press(Kind.BULK, action="ask"),
    "x:bpjs": Press(Kind.EXPORT, action="bpjs"),
    "p:9": Press(Kind.FIX, id=9),
}


@pytest.mark.parametrize(("data", "press"), RECORDED.items())
def test_recorded_data_decodes_and_encodes_back(data: str, press: Press):
    assert decode(data) == press
    assert encode(press) == data


JUNK = [
    "", ":", "::::", "i:::", "i:ab:summary", "i:ab:summary:send:x", "i:ab:summary:🙂", "d:1", "d:1:ok:extra",
    "d:abc:ok", "d:1²:ok", "d:١:ok", "d:2147483648:ok", "d:1.99999999999999999999:ok", "d:-1:ok", "d: 1:ok",
    "d:1:" + "o" * 61, "d:1:" + synthetic_nik(), "p:" + synthetic_nik(), "q:abc", "q:1²",
    "q:99999999999999999999",
    "o:99999999999999999999", "o:1:x", "b:go:1", "b:", "x:../bpjs", "x", "p:²", "p:-1", "p: 1", "p:1:2",
    "z:1", "D:1:ok", "ｄ:1:ok", "d:1\n:ok", "\x00", "é" * 40, "x" * 65, "i:" + "a" * 62,
]  # fmt: skip


@pytest.mark.parametrize("data", JUNK)
def test_junk_forged_and_over_long_data_decodes_to_none(data: str):
    assert decode(data) is None


@given(st.text(max_size=80))
def test_decode_never_raises(data: str):
    press = decode(data)
    if press is not None:  # whatever decodes, the codec can write ("d:01:ok" reads as "d:1:ok")
        assert decode(encode(press)) == press


@pytest.mark.parametrize(
    "press",
    [
        Press(Kind.DECIDE, action="ok", id=1_000_000_000),  # beyond a <ref>
        Press(Kind.DECIDE, action="a:b", id=1),  # a field with the separator
        Press(Kind.INTAKE, action="x" * 17, token="ab", step="nik"),
        Press(Kind.EXPORT, action="ékspor"),
        Press(Kind.QUEUE),  # neither a page nor "new"
    ],
)
def test_encode_refuses_what_decode_would_not_read_back(press: Press):
    with pytest.raises(ValueError, match="not encodable"):
        encode(press)


def test_channels_ask_the_codec_which_keyboard_a_press_spends():
    assert buttons.retires_keyboard("i:ab12cd:summary:send")
    assert not buttons.retires_keyboard("d:1.0:ok")
    assert buttons.is_card("d:1.0:ok")
    assert not buttons.is_card("o:next")
    assert not buttons.is_card("d:abc:ok")


def _callback_data(api: FakeBotApi) -> list[str]:
    """Every callback_data the bot sent or edited in, in any chat."""
    found = [b["callback_data"] for message in api.sent for b in message.buttons]
    for edit in api.edits:
        markup: Any = edit.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if isinstance(markup, dict):
            found += [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]
    return found


async def test_every_button_of_the_flows_decodes(people, outbox: Outbox, fake_api: FakeBotApi):  # noqa: F811
    """Intake, the queue, a rejection's reasons, a return and its fix, /ekspor: all of it reads back."""
    first = await propose(people[RINA])
    second = await propose(people[RINA], serial=2, name="Siti Aminah")
    await outbox.deliver_pending()
    jonson = people[JONSON]
    await jonson.say("/antrian")
    card = last_card(fake_api, JONSON, second)
    await jonson.press("Tolak", card)  # the reasons, and Kembali
    await jonson.press("Kembali", _edited_message(fake_api, card))
    card = last_card(fake_api, JONSON, first)
    await jonson.press("Kembalikan", card)
    for label in ("Nama", "Lanjut", "Tanpa catatan"):
        await jonson.press(label, _edited_message(fake_api, card))
    await outbox.deliver_pending()
    await people[RINA].press("Perbaiki", fake_api.messages_to(RINA)[-1])
    await people[MARIA].say("/ekspor")

    seen = _callback_data(fake_api)
    kinds = set()
    for data in seen:
        press = decode(data)
        assert press is not None, data
        assert encode(press) == data
        kinds.add(press.kind)
    assert kinds >= {Kind.INTAKE, Kind.DECIDE, Kind.REASON, Kind.FIX_FIELD, Kind.OPEN, Kind.FIX, Kind.EXPORT}
