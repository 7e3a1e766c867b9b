#!/usr/bin/env node
// The tracker plugin's MCP server (stdio, newline-delimited JSON-RPC),
// written for AI Studio's tests; it needs nothing beyond Node.
//
//   node server.mjs DATA_DIR
//
// Tools: `create_issue` (title, body) and `list_issues`, which keep the
// issues in DATA_DIR/issues.json; `list_issues` names its MCP Apps view,
// `ui://tracker/issues` (text/html;profile=mcp-app), which lists them and
// has a button that asks the host to call `create_issue`. And tools for
// the tests to see what the sandbox gives it: `peek` (reads a path),
// `reach` (connects to host:port), `get` (an http:// URL through the
// proxy in $HTTP_PROXY, as a request in absolute form or through a
// CONNECT tunnel), `env` (one variable of its environment) and `spawn`
// (runs a program), and `children` (looks into the working directories
// of its child processes, where a sandbox's helpers may work).
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { connect } from "node:net";
import { request as httpRequest } from "node:http";
import { execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";

const data = process.argv[2] ?? ".";
const store = join(data, "issues.json");
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const text = (value, isError = false) => ({ content: [{ type: "text", text: value }], isError });
const VIEW = "ui://tracker/issues";

function issues() {
  try {
    return JSON.parse(readFileSync(store, "utf8"));
  } catch {
    return [];
  }
}

function view() {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Issues</title></head>
<body>
<h1>Issues</h1>
<ul id="issues"></ul>
<button id="new">New issue</button>
<script>
let next = 1;
const pending = new Map();
function request(method, params) {
  const id = next++;
  window.parent.postMessage({ jsonrpc: "2.0", id, method, params }, "*");
  return new Promise((resolve) => pending.set(id, resolve));
}
function show(list) {
  const ul = document.getElementById("issues");
  ul.replaceChildren(...list.map((issue) => {
    const li = document.createElement("li");
    li.textContent = "#" + issue.id + " " + issue.title;
    return li;
  }));
}
// Answers it never asked for, or got twice, are counted where a test
// can read them (data-unasked on the body).
function unasked() {
  document.body.dataset.unasked = String(Number(document.body.dataset.unasked ?? 0) + 1);
}
window.addEventListener("message", (event) => {
  const message = event.data;
  if (message.id !== undefined && message.method === undefined && !pending.has(message.id)) {
    unasked();
  } else if (message.id !== undefined && pending.has(message.id)) {
    pending.get(message.id)(message.result);
    pending.delete(message.id);
  } else if (message.method === "ui/notifications/tool-result") {
    show(message.params?.structuredContent?.issues ?? []);
  }
});
document.getElementById("new").addEventListener("click", async () => {
  await request("tools/call", { name: "create_issue", arguments: { title: "Filed from the panel" } });
  const listed = await request("tools/call", { name: "list_issues", arguments: {} });
  show(listed?.structuredContent?.issues ?? []);
});
request("ui/initialize", { appInfo: { name: "tracker", version: "1.0.0" }, appCapabilities: {} })
  .then(() => window.parent.postMessage({ jsonrpc: "2.0", method: "ui/notifications/initialized" }, "*"));
</script>
</body></html>`;
}

const tools = [
  {
    name: "create_issue",
    description: "Files an issue in the tracker.",
    inputSchema: {
      type: "object",
      properties: { title: { type: "string" }, body: { type: "string" } },
      required: ["title"],
    },
  },
  {
    name: "list_issues",
    description: "Lists the tracker's issues.",
    inputSchema: { type: "object", properties: {} },
    _meta: { ui: { resourceUri: VIEW } },
  },
  {
    name: "peek",
    description: "Reads a file (to show what the sandbox allows).",
    inputSchema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
  },
  {
    name: "env",
    description: "Says one variable of its environment (to show what the plugin was given).",
    inputSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
  },
  {
    name: "spawn",
    description: "Runs a program (to show whether the sandbox lets it start others).",
    inputSchema: {
      type: "object",
      properties: { program: { type: "string" }, args: { type: "array", items: { type: "string" } } },
      required: ["program"],
    },
  },
  {
    name: "reach",
    description: "Opens a TCP connection (to show what the sandbox allows).",
    inputSchema: {
      type: "object",
      properties: { host: { type: "string" }, port: { type: "number" } },
      required: ["host", "port"],
    },
  },
  {
    name: "children",
    description: "Lists what is in its child processes' working directories.",
    inputSchema: { type: "object", properties: {} },
  },
  {
    name: "get",
    description: "GETs an http:// URL through the sandbox's proxy (tunnel: through CONNECT).",
    inputSchema: {
      type: "object",
      properties: { url: { type: "string" }, tunnel: { type: "boolean" } },
      required: ["url"],
    },
  },
];

async function call(name, args) {
  switch (name) {
    case "create_issue": {
      const list = issues();
      const issue = { id: list.length + 1, title: String(args.title ?? ""), body: String(args.body ?? "") };
      list.push(issue);
      mkdirSync(data, { recursive: true });
      writeFileSync(store, JSON.stringify(list));
      return { ...text(`created issue #${issue.id}: ${issue.title}`), structuredContent: { issue } };
    }
    case "list_issues": {
      const list = issues();
      const lines = list.map((issue) => `#${issue.id} ${issue.title}`).join("\n");
      return { ...text(lines || "no issues"), structuredContent: { issues: list } };
    }
    case "peek":
      try {
        return text(readFileSync(String(args.path), "utf8").slice(0, 200));
      } catch (err) {
        return text(`cannot read ${args.path}: ${err.code}`, true);
      }
    case "env":
      return text(process.env[String(args.name)] ?? "(unset)");
    case "spawn":
      try {
        const out = execFileSync(String(args.program), (args.args ?? []).map(String), { timeout: 5000 });
        return text(`ran: ${out.toString().trim()}`);
      } catch (err) {
        return text(`cannot run ${args.program}: ${err.code ?? err.status}`, true);
      }
    case "reach":
      return await new Promise((resolve) => {
        const socket = connect({ host: String(args.host), port: Number(args.port) });
        socket.setTimeout(3000);
        socket.on("connect", () => {
          socket.destroy();
          resolve(text(`connected to ${args.host}:${args.port}`));
        });
        socket.on("timeout", () => {
          socket.destroy();
          resolve(text(`cannot reach ${args.host}:${args.port}: timeout`, true));
        });
        socket.on("error", (err) => resolve(text(`cannot reach ${args.host}:${args.port}: ${err.code}`, true)));
      });
    case "get":
      return await get(String(args.url), Boolean(args.tunnel));
    case "children": {
      let pids;
      try {
        pids = readFileSync("/proc/thread-self/children", "utf8").trim().split(/\s+/).filter(Boolean);
      } catch (err) {
        return text(`cannot list its children: ${err.code}`, true);
      }
      if (pids.length === 0) return text("no children", true);
      const seen = pids.map((pid) => {
        try {
          return `${pid}: ${readdirSync(`/proc/${pid}/cwd`).join(",")}`;
        } catch (err) {
          return `${pid}: ${err.code}`;
        }
      });
      return text(seen.join("\n"));
    }
    default:
      return null;
  }
}

// GETs `url` through the proxy the sandbox names in $HTTP_PROXY.
function get(url, tunnel) {
  const proxy = process.env.HTTP_PROXY;
  if (!proxy) return text("no proxy: HTTP_PROXY is unset", true);
  const via = new URL(proxy);
  const target = new URL(url);
  const hostPort = `${target.hostname}:${target.port || 80}`;
  return new Promise((resolve) => {
    const done = (value, isError) => resolve(text(value, isError));
    const read = (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => done(`${response.statusCode}: ${body}`, response.statusCode !== 200));
    };
    const options = { host: via.hostname, port: Number(via.port), timeout: 5000 };
    if (!tunnel) {
      const req = httpRequest({ ...options, path: url, headers: { host: hostPort } }, read);
      req.on("error", (err) => done(`cannot get ${url}: ${err.code}`, true));
      return req.end();
    }
    const req = httpRequest({ ...options, method: "CONNECT", path: hostPort });
    req.on("connect", (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        return done(`tunnel refused: ${response.statusCode}`, true);
      }
      const inner = httpRequest({ createConnection: () => socket, path: target.pathname, headers: { host: hostPort } }, read);
      inner.on("error", (err) => done(`cannot get ${url}: ${err.code}`, true));
      inner.end();
    });
    req.on("response", read);
    req.on("error", (err) => done(`cannot get ${url}: ${err.code}`, true));
    req.end();
  });
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  if (request.id === undefined) return;
  const reply = (result) => send({ jsonrpc: "2.0", id: request.id, result });
  const fail = (code, message) => send({ jsonrpc: "2.0", id: request.id, error: { code, message } });
  switch (request.method) {
    case "initialize":
      return reply({
        protocolVersion: request.params.protocolVersion,
        capabilities: { tools: {}, resources: {} },
        serverInfo: { name: "tracker", version: "1.0.0" },
      });
    case "ping":
      return reply({});
    case "tools/list":
      return reply({ tools });
    case "tools/call": {
      const result = await call(request.params.name, request.params.arguments ?? {});
      return result ? reply(result) : fail(-32602, `unknown tool ${request.params.name}`);
    }
    case "resources/list":
      return reply({
        resources: [{ uri: VIEW, name: "issues", title: "Issues", mimeType: "text/html;profile=mcp-app" }],
      });
    case "resources/read":
      if (request.params.uri !== VIEW) return fail(-32002, "resource not found");
      return reply({
        contents: [
          {
            uri: VIEW,
            mimeType: "text/html;profile=mcp-app",
            text: view(),
            _meta: { ui: { csp: { connectDomains: [], resourceDomains: [] }, prefersBorder: true } },
          },
        ],
      });
    default:
      return fail(-32601, "method not found");
  }
});
