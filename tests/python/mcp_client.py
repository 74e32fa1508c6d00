"""A real MCP client (the official SDK) for tests/mcp_sdk_e2e.rs: mode is "legacy" (the
2025-11-25 initialize handshake) or "auto" (2026-07-28 server/discover)."""
import asyncio
import json
import sys

from mcp import Client


async def main(url: str, mode: str) -> None:
    async with Client(url, mode=mode) as client:
        tools = await client.list_tools()
        weather = await client.call_tool("get_weather", {"city": "Paris"})
        total = await client.call_tool("add", {"a": 2, "b": 40})
        print(json.dumps({
            "tools": sorted(t.name for t in tools.tools),
            "weather_error": bool(weather.is_error),
            "add": [getattr(c, "text", None) for c in total.content],
        }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
