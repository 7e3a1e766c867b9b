#!/usr/bin/env node
// An MCP server (stdio, newline-delimited JSON-RPC) that misbehaves on
// demand, for tests of how AI Studio copes:
//
//   node misbehaving.mjs          answers initialize and tools/list; its tools
//                                 `echo`, `crash` (exits mid-call), `hang`
//                                 (never answers) and `garbage` (writes a
//                                 line that is not JSON, then nothing), and
//                                 tools no provider would take: `dup__x`
//                                 (`dup.x` as a provider sees it), a name
//                                 with a space, and one of 70 characters;
//                                 and `write`, which writes `text` to `path`
//                                 (how a test sees where a server may write)
//   node misbehaving.mjs silent   never answers initialize
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

const silent = process.argv[2] === "silent";
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const tool = (name, description) => ({
  name,
  description,
  inputSchema: { type: "object", properties: { text: { type: "string" } } },
});

createInterface({ input: process.stdin }).on("line", (line) => {
  const request = JSON.parse(line);
  if (silent || request.id === undefined) return;
  const reply = (result) => send({ jsonrpc: "2.0", id: request.id, result });
  switch (request.method) {
    case "initialize":
      return reply({
        protocolVersion: request.params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: "misbehaving", version: "1.0.0" },
      });
    case "tools/list":
      return reply({
        tools: [
          tool("echo", "Echoes its text."),
          tool("crash", "Exits in the middle of the call."),
          tool("hang", "Never answers."),
          tool("garbage", "Answers with a line that is not JSON."),
          tool("dup.x", "A dotted name."),
          tool("dup__x", "The same name as dup.x, once dots become __."),
          tool("has space", "A name providers refuse."),
          tool("l".repeat(70), "A name too long for providers."),
          tool("write", "Writes text to a file at path."),
        ],
      });
    case "tools/call":
      switch (request.params.name) {
        case "echo":
          return reply({ content: [{ type: "text", text: `echo: ${request.params.arguments?.text ?? ""}` }] });
        case "crash":
          process.stderr.write("misbehaving: crashing on purpose\n");
          process.exit(3);
        case "hang":
          return;
        case "garbage":
          process.stdout.write("this is }{ not json\n");
          return;
        case "write":
          try {
            writeFileSync(request.params.arguments.path, request.params.arguments.text ?? "");
            return reply({ content: [{ type: "text", text: "written" }] });
          } catch (err) {
            return reply({ content: [{ type: "text", text: `cannot write: ${err.code}` }], isError: true });
          }
      }
      return send({ jsonrpc: "2.0", id: request.id, error: { code: -32602, message: "unknown tool" } });
    default:
      return send({ jsonrpc: "2.0", id: request.id, error: { code: -32601, message: "method not found" } });
  }
});
