// The host side of MCP Apps (io.modelcontextprotocol/ui) for one view:
// JSON-RPC 2.0 over postMessage with the sandboxed iframe whose
// data-view is `frameId`. It answers ui/initialize, sends the tool's input
// and result once the view says it is initialized, follows its size, and
// hands its tools/call requests to the app (dioxus.send), which runs them
// through the daemon's approvals and hands back each answer
// (window.__studioViews[frameId].deliver). Messages from any other window are ignored: the view is
// an opaque origin (sandbox="allow-scripts" without allow-same-origin),
// so event.source is the only way to know it. `instance` numbers this
// host among those the same frame id had: a frame mounted again (a panel
// reopened, a chat shown again) gets a new host, and the old one stops
// listening (`dispose`, or at the first message it sees after), so no
// request is answered twice.
(frameId, instance, input, result, hostVersion) => {
  const frame = () =>
    [...document.querySelectorAll("iframe[data-view]")].find((f) => f.dataset.view === frameId);
  const post = (message) => frame()?.contentWindow?.postMessage(message, "*");
  const reply = (id, result) => post({ jsonrpc: "2.0", id, result });
  const fail = (id, code, message) => post({ jsonrpc: "2.0", id, error: { code, message } });
  const notify = (method, params) => post({ jsonrpc: "2.0", method, params });
  const waiting = new Map();
  let next = 1;
  const views = (window.__studioViews = window.__studioViews ?? {});
  const current = () => views[frameId]?.instance === instance;
  const listen = (event) => {
    if (!current()) {
      window.removeEventListener("message", listen);
      return;
    }
    const f = frame();
    if (!f || event.source !== f.contentWindow) return;
    const m = event.data;
    if (!m || typeof m !== "object" || m.jsonrpc !== "2.0") return;
    if (m.method === undefined) {
      // An answer to the host's own request (teardown).
      const done = waiting.get(m.id);
      if (done) {
        waiting.delete(m.id);
        done();
      }
      return;
    }
    switch (m.method) {
      case "ui/initialize":
        return reply(m.id, {
          protocolVersion: "2025-11-21",
          hostInfo: { name: "AI Studio", version: hostVersion },
          hostCapabilities: { serverTools: {} },
          hostContext: {
            theme: document.documentElement.dataset.theme === "dark" ? "dark" : "light",
            displayMode: "inline",
            availableDisplayModes: ["inline"],
            platform: "desktop",
          },
        });
      case "ui/notifications/initialized":
        if (input !== null) notify("ui/notifications/tool-input", { arguments: input });
        if (result !== null) notify("ui/notifications/tool-result", result);
        return;
      case "ui/notifications/size-changed": {
        const height = Number(m.params?.height);
        if (Number.isFinite(height) && height > 0) {
          f.style.height = Math.min(Math.ceil(height), 2000) + "px";
        }
        return;
      }
      case "tools/call":
        if (m.id === undefined) return;
        dioxus.send({
          type: "call",
          id: m.id,
          name: String(m.params?.name ?? ""),
          arguments: m.params?.arguments ?? {},
        });
        return;
      case "ping":
        return reply(m.id, {});
      default:
        if (m.id !== undefined) fail(m.id, -32601, `${m.method} is not offered by this host`);
    }
  };
  window.addEventListener("message", listen);
  // What the app sends back comes as a call of `deliver` (a script of its
  // own each time: liveview's dioxus.recv() spins while nothing waits).
  views[frameId] = {
    instance,
    // The frame is gone: stop listening, unless a newer host took over.
    dispose: (which) => {
      if (which !== instance) return;
      window.removeEventListener("message", listen);
      if (current()) delete views[frameId];
    },
    deliver: async (command) => {
      if (command.type === "reply") {
        reply(command.id, command.result);
      } else if (command.type === "error") {
        fail(command.id, -32000, command.message);
      } else if (command.type === "teardown") {
        // The view may save what it must; it has a second to answer.
        const id = `teardown-${next++}`;
        await new Promise((done) => {
          waiting.set(id, done);
          post({ jsonrpc: "2.0", id, method: "ui/resource-teardown", params: {} });
          setTimeout(done, 1000);
        });
        dioxus.send({ type: "closed" });
      }
    },
  };
}
