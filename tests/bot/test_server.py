"""The HTTP server's health route, through the real FastAPI application (httpx's ASGI transport, no
network): 200 while the database answers, 503 (and no error text) when it does not."""

from __future__ import annotations

import dataclasses

import httpx
from fastapi import FastAPI

from bot.server import build_server
from models.db import create_engine, session_maker


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lanjutkan") as client:
        return await client.get(path)


async def test_healthz_is_200_while_the_database_answers(services):
    response = await get(build_server(services), "/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


async def test_healthz_is_503_when_the_database_does_not_answer(services, tmp_path):
    gone = create_engine(f"postgresql+asyncpg://nobody:wrong@127.0.0.1:9/{tmp_path.name}")
    broken = dataclasses.replace(services, sessions=session_maker(gone))
    try:
        response = await get(build_server(broken), "/healthz")
    finally:
        await gone.dispose()

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}
    assert "wrong" not in response.text  # no connection details in the answer


async def test_unknown_paths_and_the_api_docs_are_not_served(services):
    app = build_server(services)

    assert (await get(app, "/docs")).status_code == 404
    assert (await get(app, "/openapi.json")).status_code == 404
