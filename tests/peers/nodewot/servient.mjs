// A node-wot servient exposing one Thing ("Counter") over HTTP on 127.0.0.1, for ThingBridge's
// tests: a real, third-party Web of Things peer.
//
// Usage: node servient.mjs [PORT]     (PORT 0 or absent: the OS picks a free port)
//
// stdout carries one JSON object per line:
//   {"ready": true, "port": 43121, "td": "http://127.0.0.1:43121/counter"}   once, when serving
//   {"observe": "count"} / {"unobserve": "count"}       a long-poll observer was registered/dropped
//   {"subscribe": "changed"} / {"unsubscribe": "changed"}   the same for event subscribers
//   {"request": {"method": "PUT", "url": "/counter/properties/count", "accept": ...,
//                "contentType": ...}}                   every HTTP request, as it arrives
//   {"closed": {"method": "GET", "url": "/counter/events/changed"}}   its connection ended
//                                                       (answered, or dropped by either side)
//   {"reply": {"cmd": "get", "value": 7}}             one per stdin command (below)
// The observe/subscribe notices are printed after node-wot has registered the listener, so a
// test can wait for them before changing a value instead of sleeping.
//
// stdin takes one JSON command per line, to act on the device side:
//   {"cmd": "set", "name": "count", "value": 5}   change a value as the device itself would
//                                                 (notifies observers, emits "changed")
//   {"cmd": "get", "name": "count"}               answer the current value
//   {"cmd": "event", "data": {...}}               emit the "changed" event with that data
//
// The process exits on SIGTERM/SIGINT and when its stdin closes (so it cannot outlive a test
// that dies without cleaning up).

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Servient, Helpers } = require("@node-wot/core");
const { HttpServer } = require("@node-wot/binding-http");

const HOST = "127.0.0.1";

function emit(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function parsePort(argv) {
  const raw = argv[2] ?? "0";
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`servient: invalid port ${JSON.stringify(raw)} (expected 0-65535)\n`);
    process.exit(2);
  }
  return port;
}

const port = parsePort(process.argv);

// node-wot's HttpServer lets WOT_PORT/PORT override the configured port: the command line wins.
delete process.env.WOT_PORT;
delete process.env.PORT;
// Without a static address node-wot writes one set of forms per non-loopback interface address
// into the TD; a consumer following those would leave loopback.
Helpers.setStaticAddress(HOST);

// Report each request so a test can tell what a consumer actually sent.
async function logRequest(req, res, next) {
  res.on("close", () => emit({ closed: { method: req.method, url: req.url } }));
  emit({
    request: {
      method: req.method,
      url: req.url,
      accept: req.headers.accept ?? null,
      contentType: req.headers["content-type"] ?? null,
    },
  });
  next();
}

const httpServer = new HttpServer({ address: HOST, port, middleware: logRequest });
const servient = new Servient();
servient.addServer(httpServer);

// Installed before the ready line, so a test that signals right after it is always heard.
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  // Long-poll requests stay open for up to an hour: drop them so the server can close.
  httpServer.getServer().closeAllConnections?.();
  const deadline = new Promise((resolve) => setTimeout(resolve, 2000).unref());
  await Promise.race([servient.shutdown().catch(() => undefined), deadline]);
  process.exit(0);
}

process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.setEncoding("utf8");
// Commands wait for the Thing to be exposed (they are only read once the ready line is out).
let exposed;
const ready = new Promise((resolve) => {
  exposed = resolve;
});
let pending = "";
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let newline;
  while ((newline = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    if (line) ready.then(() => command(line));
  }
});

const state = { brightness: 50, count: 0, changes: 0 };

const wot = await servient.start();
const thing = await wot.produce({
  title: "Counter",
  id: "urn:thingbridge:test:nodewot-counter",
  description: "A counter with a dimmer, served by node-wot for ThingBridge's tests.",
  properties: {
    brightness: {
      title: "Brightness",
      type: "integer",
      minimum: 0,
      maximum: 100,
      unit: "percent",
      observable: false,
    },
    count: {
      title: "Count",
      description: "Changes when written and when increment or reset run.",
      type: "integer",
      minimum: 0,
      observable: true,
    },
    changes: {
      title: "Changes",
      description: "How many changes the Thing has made so far.",
      type: "integer",
      readOnly: true,
      observable: false,
    },
  },
  actions: {
    increment: {
      title: "Increment",
      input: {
        type: "object",
        properties: { step: { type: "integer", minimum: 1, maximum: 100 } },
        required: ["step"],
      },
      output: { type: "integer", description: "The new count." },
    },
    reset: {
      title: "Reset",
      description: "Set the count back to 0; takes no input and returns nothing.",
    },
  },
  events: {
    changed: {
      title: "Changed",
      data: {
        type: "object",
        properties: { property: { type: "string" }, value: { type: "integer" } },
      },
    },
  },
});

async function changed(property, value) {
  state[property] = value;
  state.changes += 1;
  if (property === "count") {
    await thing.emitPropertyChange("count");
  }
  thing.emitEvent("changed", { property, value });
}

for (const name of ["brightness", "count", "changes"]) {
  thing.setPropertyReadHandler(name, async () => state[name]);
}
for (const name of ["brightness", "count"]) {
  thing.setPropertyWriteHandler(name, async (output) => {
    await changed(name, await output.value());
  });
}
thing.setActionHandler("increment", async (params) => {
  const { step } = await params.value();
  await changed("count", state.count + step);
  return state.count;
});
thing.setActionHandler("reset", async () => {
  await changed("count", 0);
  return undefined;
});
thing.setPropertyObserveHandler("count", async () => emit({ observe: "count" }));
thing.setPropertyUnobserveHandler("count", async () => emit({ unobserve: "count" }));
thing.setEventSubscribeHandler("changed", async () => emit({ subscribe: "changed" }));
thing.setEventUnsubscribeHandler("changed", async () => emit({ unsubscribe: "changed" }));

async function command(line) {
  try {
    const message = JSON.parse(line);
    if (message.cmd === "set") {
      if (!(message.name in state)) throw new Error(`unknown property ${message.name}`);
      await changed(message.name, message.value);
      emit({ reply: { cmd: "set", value: state[message.name] } });
    } else if (message.cmd === "get") {
      if (!(message.name in state)) throw new Error(`unknown property ${message.name}`);
      emit({ reply: { cmd: "get", value: state[message.name] } });
    } else if (message.cmd === "event") {
      thing.emitEvent("changed", message.data);
      emit({ reply: { cmd: "event" } });
    } else {
      emit({ reply: { error: `unknown command ${JSON.stringify(message.cmd)}` } });
    }
  } catch (err) {
    emit({ reply: { error: String(err) } });
  }
}

await thing.expose();
exposed();

const actualPort = httpServer.getPort();
emit({ ready: true, port: actualPort, td: `http://${HOST}:${actualPort}/counter` });
