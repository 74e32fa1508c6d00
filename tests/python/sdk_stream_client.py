"""Reads a streamed answer through Envoy with an official SDK, to its end, and prints what the
SDK assembled as JSON. Usage: sdk_stream_client.py <openai-chat|openai-responses|anthropic> <base_url> <b64 stream>

The stream is handed to the test upstream in `x-raw-body-b64`; the SDK must parse it whole
without an error, as if the model had written the placeholders itself.
"""
import json
import sys

kind, base, raw = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
if kind.startswith("openai"):
    import openai

    fixture = "openai/chat_stream" if kind == "openai-chat" else "openai/responses_stream_short"
    client = openai.OpenAI(base_url=base + "/v1", api_key="test", max_retries=0,
                           default_headers={"x-fixture": fixture, "x-raw-body-b64": raw, "x-chunk-delay-ms": "2"})
    if kind == "openai-chat":
        text, args = "", ""
        for chunk in client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True):
            for c in chunk.choices:
                text += c.delta.content or ""
                for t in c.delta.tool_calls or []:
                    args += (t.function.arguments or "") if t.function else ""
        out = {"text": text, "args": args}
    else:
        # the plain iterator of `responses.create(stream=True)`: every event typed by the SDK,
        # the last one `response.completed` with the whole response object
        text, args, text_done, args_done, final = "", "", [], [], None
        for ev in client.responses.create(model="gpt-4.1-nano", input="hi", stream=True):
            if ev.type == "response.output_text.delta":
                text += ev.delta
            elif ev.type == "response.function_call_arguments.delta":
                args += ev.delta
            elif ev.type == "response.output_text.done":
                text_done.append(ev.text)
            elif ev.type == "response.function_call_arguments.done":
                args_done.append(ev.arguments)
            elif ev.type == "response.completed":
                final = ev.response
        out = {"text": text, "args": args, "text_done": text_done, "args_done": args_done,
               "final": final.output_text,
               "final_args": [o.arguments for o in final.output if o.type == "function_call"],
               "final_json": final.model_dump_json()}
else:
    import anthropic

    client = anthropic.Anthropic(base_url=base, api_key="test", max_retries=0,
                                 default_headers={"x-fixture": "anthropic/messages_stream", "x-raw-body-b64": raw, "x-chunk-delay-ms": "2"})
    with client.messages.stream(model="claude-3-haiku-20240307", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    out = {"text": text, "final": "".join(b.text for b in final.content if b.type == "text"),
           "tool_input": [b.input for b in final.content if b.type == "tool_use"]}
print(json.dumps(out))
