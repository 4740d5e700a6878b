"""End to end: `lanjutkan run` sends the weekly summary through Telegram once, across restarts and two
bot processes on one database."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.test_run import JONSON, RINA, START_TIMEOUT, deployment, until

pytestmark = pytest.mark.e2e


def summaries(d, user: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.text for m in d.api.messages_to(user) if m.text.startswith("📊 Ringkasan mingguan")]


async def test_the_weekly_summary_arrives_once_after_restarts_and_with_two_processes(tmp_path):
    async with deployment(tmp_path) as d:
        # The summary due today at 00:00 WIB, whatever today is: at start-up it is due, hours late at most.
        today = dt.datetime.now(ZoneInfo("Asia/Jakarta")).strftime("%a").lower()
        d.env |= {
            "LANJUTKAN_SCHEDULED_MESSAGES": "true",
            "LANJUTKAN_SUMMARY_DAY": today,
            "LANJUTKAN_SUMMARY_TIME": "00:00",
        }
        await d.import_roster()
        first = await d.start()
        await d.onboard(RINA, "Rina Sitohang")
        await d.onboard(JONSON, "Jonson Simbolon")
        # Nobody was bound when the first process caught up: nothing was sent, and nothing was marked sent.
        assert summaries(d, RINA) == summaries(d, JONSON) == []
        assert d.query("SELECT count(*) FROM dispatch") == [(0,)]
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 15) == 0

        # Two processes start on the same database at once, as after a deploy with two replicas.
        await d.start()
        await d.start()
        await until(lambda: summaries(d, RINA) and summaries(d, JONSON), "the summaries", START_TIMEOUT)
        assert "Desa Tomok" in summaries(d, RINA)[0]
        assert "Kec. Simanindo" in summaries(d, JONSON)[0]
        await asyncio.sleep(2.0)  # time for a duplicate to show up, if there were one
        for proc in d.processes[1:]:
            await d.sigkill(proc)
        await d.start()  # and a restart
        await d.say(RINA, "/bantuan", START_TIMEOUT)  # it is up (its catch-up runs as it starts)
        await asyncio.sleep(1.5)
        assert len(summaries(d, RINA)) == 1
        assert len(summaries(d, JONSON)) == 1
        periods = d.query("SELECT DISTINCT kind, period FROM dispatch")
        assert len(periods) == 1
        assert periods[0][0] == "ringkasan"
        assert d.query("SELECT count(*) FROM dispatch") == [(2,)]
        assert "Traceback" not in d.log_text()
