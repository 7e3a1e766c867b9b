#!/usr/bin/env node
// A streamable-HTTP MCP server protected by OAuth, with its own
// authorization server, on one port of 127.0.0.1 (no dependencies), for
// tests of `studio mcp login` and of sessions that use its tokens:
//
//   node oauth-server.mjs    prints `listening PORT`, then serves:
//
//   POST /mcp                 MCP (JSON answers): initialize, tools/list, and
//                             tools/call of `whoami` (says which client the
//                             token was issued to); 401 with a
//                             WWW-Authenticate naming the resource metadata
//                             without a valid bearer token
//   /.well-known/oauth-protected-resource/mcp   RFC 9728 metadata
//   /.well-known/oauth-authorization-server     RFC 8414 metadata
//   POST /register            dynamic client registration (public clients)
//   GET  /authorize           checks the client, redirect URI, PKCE (S256)
//                             and resource, then redirects with a code
//   POST /token               authorization_code (checks the verifier,
//                             redirect URI and resource) and refresh_token
//                             (rotates it); access tokens live EXPIRES_IN s
//   GET  /stats               what happened, for the test: registrations,
//                             grants by type, tools called, tokens issued
//
// With CLIENT_ID and CLIENT_SECRET set, that client is registered out of
// band: any loopback redirect, and its secret is required at /token (HTTP
// Basic or in the form). Tokens carry the scope asked for at /authorize
// (`notes:read` when none was; the 401 asks for it); with CALL_SCOPE set,
// tools/call needs that scope too, and answers 403 insufficient_scope
// without it (step-up).
import { createServer } from "node:http";
import { createHash, randomBytes } from "node:crypto";

const expiresIn = Number(process.env.EXPIRES_IN || 3600);
let origin = "";
const clients = new Map(); // client_id -> redirect_uris
const codes = new Map(); // code -> {clientId, redirectUri, challenge, resource}
const access = new Map(); // token -> {clientId, expires}
const refresh = new Map(); // token -> clientId
const stats = { registered: 0, authorize: 0, scopes: [], grants: {}, calls: 0, issued: [], refused: [] };
const callScope = process.env.CALL_SCOPE;
const secrets = new Map(); // client_id -> secret, for confidential clients
if (process.env.CLIENT_ID) {
  clients.set(process.env.CLIENT_ID, "loopback");
  secrets.set(process.env.CLIENT_ID, process.env.CLIENT_SECRET);
}

const token = () => randomBytes(24).toString("base64url");
const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};
const body = (req) =>
  new Promise((resolve) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data));
  });
const resource = () => `${origin}/mcp`;
const refuse = (res, error, why) => {
  stats.refused.push(why);
  json(res, 400, { error, error_description: why });
};

function issue(res, clientId, grant, scope) {
  stats.grants[grant] = (stats.grants[grant] || 0) + 1;
  const accessToken = token();
  const refreshToken = token();
  access.set(accessToken, { clientId, scope, expires: Date.now() + expiresIn * 1000 });
  refresh.set(refreshToken, { clientId, scope });
  stats.issued.push(accessToken, refreshToken);
  json(res, 200, {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: expiresIn,
    refresh_token: refreshToken,
    scope,
  });
}

async function tokenEndpoint(req, res) {
  const form = new URLSearchParams(await body(req));
  const grant = form.get("grant_type");
  let clientId = form.get("client_id");
  let secret = form.get("client_secret");
  const basic = (req.headers.authorization || "").match(/^Basic (.+)$/);
  if (basic) {
    const [id, pass] = Buffer.from(basic[1], "base64").toString().split(":");
    clientId = decodeURIComponent(id);
    secret = decodeURIComponent(pass);
  }
  if (!clients.has(clientId)) return refuse(res, "invalid_client", `unknown client ${clientId}`);
  if (secrets.has(clientId) && secrets.get(clientId) !== secret) {
    return refuse(res, "invalid_client", "wrong client secret");
  }
  if (form.get("resource") !== resource()) {
    return refuse(res, "invalid_target", `resource ${form.get("resource")}`);
  }
  if (grant === "authorization_code") {
    const code = codes.get(form.get("code"));
    codes.delete(form.get("code"));
    if (!code || code.clientId !== clientId) return refuse(res, "invalid_grant", "unknown code");
    if (code.redirectUri !== form.get("redirect_uri")) return refuse(res, "invalid_grant", "redirect_uri");
    const verifier = form.get("code_verifier") || "";
    const computed = createHash("sha256").update(verifier).digest("base64url");
    if (computed !== code.challenge) return refuse(res, "invalid_grant", "PKCE verifier");
    return issue(res, clientId, grant, code.scope);
  }
  if (grant === "refresh_token") {
    const held = refresh.get(form.get("refresh_token"));
    if (!held || held.clientId !== clientId) return refuse(res, "invalid_grant", "unknown refresh token");
    refresh.delete(form.get("refresh_token"));
    return issue(res, clientId, grant, held.scope);
  }
  refuse(res, "unsupported_grant_type", `grant ${grant}`);
}

function authorize(url, res) {
  stats.authorize += 1;
  const q = url.searchParams;
  const redirects = clients.get(q.get("client_id"));
  if (!redirects) return refuse(res, "invalid_client", "unknown client at /authorize");
  const redirectUri = q.get("redirect_uri");
  const loopback = /^http:\/\/127\.0\.0\.1:\d+\/callback$/.test(redirectUri || "");
  const allowed = redirects === "loopback" ? loopback : redirects.includes(redirectUri);
  if (!allowed) return refuse(res, "invalid_request", "redirect_uri not registered");
  if (q.get("response_type") !== "code") return refuse(res, "unsupported_response_type", "response_type");
  if (q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) {
    return refuse(res, "invalid_request", "no S256 PKCE challenge");
  }
  if (q.get("resource") !== resource()) return refuse(res, "invalid_target", `resource ${q.get("resource")}`);
  const code = token();
  stats.scopes.push(q.get("scope"));
  codes.set(code, {
    clientId: q.get("client_id"),
    redirectUri,
    challenge: q.get("code_challenge"),
    scope: q.get("scope") || "notes:read",
  });
  const back = new URL(redirectUri);
  back.searchParams.set("code", code);
  if (q.get("state")) back.searchParams.set("state", q.get("state"));
  res.writeHead(302, { location: back.toString() });
  res.end();
}

async function mcp(req, res) {
  const auth = req.headers.authorization || "";
  const held = access.get(auth.replace(/^Bearer /, ""));
  if (!auth.startsWith("Bearer ") || !held || held.expires < Date.now()) {
    res.writeHead(401, {
      "www-authenticate": `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="notes:read"`,
      "content-type": "application/json",
    });
    return res.end(JSON.stringify({ error: "invalid_token" }));
  }
  if (req.method !== "POST") {
    res.writeHead(405);
    return res.end();
  }
  const message = JSON.parse(await body(req));
  if (message.id === undefined) {
    res.writeHead(202);
    return res.end();
  }
  const reply = (result) => json(res, 200, { jsonrpc: "2.0", id: message.id, result });
  switch (message.method) {
    case "initialize":
      return reply({
        protocolVersion: message.params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: "oauth-notes", version: "1.0.0" },
      });
    case "tools/list":
      return reply({
        tools: [
          {
            name: "whoami",
            description: "Says which client the token was issued to",
            inputSchema: { type: "object", properties: {} },
          },
        ],
      });
    case "tools/call":
      if (callScope && !held.scope.split(" ").includes(callScope)) {
        res.writeHead(403, {
          "www-authenticate": `Bearer error="insufficient_scope", scope="notes:read ${callScope}", resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`,
        });
        return res.end();
      }
      stats.calls += 1;
      return reply({ content: [{ type: "text", text: `signed in as ${held.clientId}` }] });
    default:
      return json(res, 200, {
        jsonrpc: "2.0",
        id: message.id,
        error: { code: -32601, message: "method not found" },
      });
  }
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, origin);
  try {
    if (url.pathname === "/mcp") return await mcp(req, res);
    if (url.pathname === "/.well-known/oauth-protected-resource/mcp") {
      return json(res, 200, {
        resource: resource(),
        authorization_servers: [origin],
        scopes_supported: ["notes:read", "notes:write"],
      });
    }
    if (url.pathname === "/.well-known/oauth-authorization-server") {
      return json(res, 200, {
        issuer: origin,
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/token`,
        registration_endpoint: `${origin}/register`,
        response_types_supported: ["code"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
      });
    }
    if (url.pathname === "/register" && req.method === "POST") {
      const asked = JSON.parse(await body(req));
      const clientId = `client-${clients.size + 1}`;
      clients.set(clientId, asked.redirect_uris || []);
      stats.registered += 1;
      return json(res, 201, {
        client_id: clientId,
        client_name: asked.client_name,
        redirect_uris: asked.redirect_uris,
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "none",
      });
    }
    if (url.pathname === "/authorize") return authorize(url, res);
    if (url.pathname === "/token" && req.method === "POST") return await tokenEndpoint(req, res);
    if (url.pathname === "/stats") return json(res, 200, stats);
    json(res, 404, { error: "not found" });
  } catch (err) {
    json(res, 500, { error: String(err) });
  }
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  origin = `http://127.0.0.1:${port}`;
  console.log(`listening ${port}`);
});
