"""A real MCP server (the official SDK's MCPServer, streamable HTTP) for tests/mcp_sdk_e2e.rs."""
import asyncio
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("genai-tap-e2e", instructions="tool server behind genai-tap")


@server.tool()
def get_weather(city: str) -> dict:
    """The weather in a city."""
    return {"city": city, "temperature": 21, "unit": "C"}


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


asyncio.run(server.run_streamable_http_async(host="127.0.0.1", port=int(sys.argv[1])))
