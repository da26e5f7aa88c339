import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { createLeanHttpPool } from "./lean-http.js";

/** A raw TCP server whose answer per request the test writes byte by byte, so framing cases are exact. */
interface RawServer {
  port: number;
  connections: number;
  /** Request heads and bodies as received. */
  requests: string[];
  close(): Promise<void>;
}

type Answer = (socket: net.Socket, request: string) => void;

async function startRawServer(answer: Answer): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, requests: [] as string[] };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let pending = "";
    socket.on("data", (chunk) => {
      pending += chunk.toString("latin1");
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const request = pending.slice(0, end + 4 + length);
        pending = pending.slice(end + 4 + length);
        state.requests.push(request);
        // A request that reached a connection this server already closed is never answered, as on a real server.
        if (socket.writableEnded) socket.destroy();
        else answer(socket, request);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return state.connections;
    },
    requests: state.requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const post = (body: string, signal = new AbortController().signal) => ({
  method: "POST",
  path: "/v1/chat/completions",
  headers: { "content-type": "application/json" },
  body,
  signal,
});

describe("lean HTTP/1.1 client", () => {
  let server: RawServer;
  let mode = "length";
  before(async () => {
    server = await startRawServer((socket, request) => {
      const body = request.slice(request.indexOf("\r\n\r\n") + 4);
      const reply = JSON.stringify({ echo: body, é: "ü" });
      switch (mode) {
        case "length":
          socket.write(
            `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(reply)}\r\n\r\n${reply}`,
          );
          break;
        case "chunked": {
          // Split mid chunk-size, mid data and mid CRLF, with a chunk extension and a trailer.
          const bytes = Buffer.from(reply);
          const a = bytes.subarray(0, 5);
          const b = bytes.subarray(5);
          const wire = Buffer.concat([
            Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Buffer.from(`${a.length.toString(16)};ext=1\r\n`),
            a,
            Buffer.from(`\r\n${b.length.toString(16)}\r\n`),
            b,
            Buffer.from("\r\n0\r\nX-Trailer: yes\r\n\r\n"),
          ]);
          let from = 0;
          for (const at of [3, 40, 41, wire.length - 3, wire.length]) {
            socket.write(wire.subarray(from, at));
            from = at;
          }
          break;
        }
        case "until-close":
          socket.end(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${reply}`);
          break;
        case "continue":
          socket.write(
            `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: ${Buffer.byteLength(reply)}\r\n\r\n${reply}`,
          );
          break;
        case "truncated":
          socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${reply}`);
          break;
        case "silent":
          break;
        case "close-idle":
          socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(reply)}\r\n\r\n${reply}`);
          break;
      }
    });
  });
  after(() => server.close());

  it("reads a content-length response and reuses the connection", async () => {
    mode = "length";
    const pool = createLeanHttpPool({ host: "127.0.0.1", port: server.port });
    const before = server.connections;
    for (let i = 0; i < 3; i++) {
      const response = await pool.request(post(`{"i":${i}}`));
      assert.equal(response.status, 200);
      assert.equal(response.headers["content-type"], "application/json");
      assert.deepEqual(JSON.parse(response.body.toString("utf8")), { echo: `{"i":${i}}`, é: "ü" });
    }
    assert.equal(server.connections - before, 1);
    const sent = server.requests.at(-1)!;
    assert.match(sent, /^POST \/v1\/chat\/completions HTTP\/1\.1\r\n/);
    assert.match(sent, /\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(sent, /\r\ncontent-length: 7\r\n/);
    pool.close();
  });

  it("reads a chunked response split anywhere, with extensions and trailers", async () => {
    mode = "chunked";
    const pool = createLeanHttpPool({ host: "127.0.0.1", port: server.port });
    for (let i = 0; i < 2; i++) {
      const response = await pool.request(post(`chunked ${i}`));
      assert.deepEqual(JSON.parse(response.body.toString("utf8")), { echo: `chunked ${i}`, é: "ü" });
    }
    pool.close();
  });

  it("reads a response framed by the connection's end, and skips a 100 Continue", async () => {
    const pool = createLeanHttpPool({ host: "127.0.0.1", port: server.port });
    mode = "until-close";
    assert.deepEqual(JSON.parse((await pool.request(post("closing"))).body.toString("utf8")).echo, "closing");
    mode = "continue";
    const response = await pool.request(post("interim"));
    assert.equal(response.status, 201);
    assert.equal(JSON.parse(response.body.toString("utf8")).echo, "interim");
    pool.close();
  });

  it("fails a response cut short, and sends the next request on a new connection", async () => {
    const pool = createLeanHttpPool({ host: "127.0.0.1", port: server.port });
    mode = "truncated";
    await assert.rejects(pool.request(post("cut")), /before the end of the response/);
    mode = "length";
    assert.equal((await pool.request(post("after"))).status, 200);
    pool.close();
  });

  it("sends again on a new connection when a reused one was closed by the server while idle", async () => {
    const pool = createLeanHttpPool({ host: "127.0.0.1", port: server.port });
    mode = "close-idle";
    const before = server.connections;
    assert.equal((await pool.request(post("first"))).status, 200);
    // The server's FIN may still be in flight when the second request picks the connection.
    assert.equal((await pool.request(post("second"))).status, 200);
    assert.equal(server.connections - before, 2);
    pool.close();
  });

  it("rejects with the signal's reason when aborted while waiting", async () => {
    mode = "silent";
    const pool = createLeanHttpPool({ host: "127.0.0.1", port: server.port });
    const controller = new AbortController();
    const pending = pool.request(post("never answered", controller.signal));
    setTimeout(() => controller.abort(new Error("caller gave up")), 20);
    await assert.rejects(pending, /caller gave up/);
    pool.close();
  });

  it("reports a refused connection with its system error code", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const pool = createLeanHttpPool({ host: "127.0.0.1", port });
    await assert.rejects(pool.request(post("x")), (error: Error & { code?: string }) => error.code === "ECONNREFUSED");
  });
});
