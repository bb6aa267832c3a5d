// The event-stream parser alone, fed in awkward pieces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sseMessages } from "../src/realtime.js";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function parse(chunks: string[]) {
  const out = [];
  for await (const m of sseMessages(streamOf(chunks))) out.push(m);
  return out;
}

test("fields, defaults, comments and multi-line data", async () => {
  const got = await parse([
    "event: connected\ndata: {\"connection\":\"c1\"}\n\n",
    ": ping\n\n",
    "id: 7\ndata: {\"a\":\n",
    "data: 1}\n\n",
    "data:no space\n\n",
  ]);
  assert.deepEqual(got, [
    { id: undefined, event: "connected", data: "{\"connection\":\"c1\"}" },
    { id: "7", event: "message", data: "{\"a\":\n1}" },
    { id: undefined, event: "message", data: "no space" },
  ]);
});

test("lines split anywhere, CRLF split across reads, CR alone", async () => {
  const got = await parse(["id: 4", "2\r", "\ndata: x\r", "\n\r", "\ndata: y\r\r"]);
  assert.deepEqual(got, [
    { id: "42", event: "message", data: "x" },
    { id: undefined, event: "message", data: "y" },
  ]);
});

test("an unterminated last event is not dispatched", async () => {
  assert.deepEqual(await parse(["data: complete\n\n", "data: cut off"]), [
    { id: undefined, event: "message", data: "complete" },
  ]);
});
