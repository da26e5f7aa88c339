#!/usr/bin/env node
/**
 * Container health check: grpc.health.v1.Health/Check over gRPC (cleartext HTTP/2), the call grpc_health_probe and
 * kubelet's `grpc:` probe make. Exit 0 when the status is SERVING, 1 otherwise (NOT_SERVING, an error, no answer).
 *
 *   node deploy/healthcheck.mjs HOST:PORT [SERVICE]      SERVICE: a gRPC service name; default "" (the server)
 *
 * Plain node:http2 and a hand-written protobuf frame rather than the generated client: this runs every few seconds
 * in every container, and starting tsx and the contracts for it would cost more CPU than the service's own work.
 * Health checks need no bearer token (RAGTUNE_AUTH_TOKEN exempts them).
 */
import http2 from "node:http2";

const TIMEOUT_MS = 4000;
const STATUS_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

const [target, service = ""] = process.argv.slice(2);
if (!target || !/^(\[[0-9a-fA-F:]+\]|[^:/\s]+):\d{1,5}$/.test(target)) {
  process.stderr.write("usage: node deploy/healthcheck.mjs HOST:PORT [SERVICE]\n");
  process.exit(2);
}

/** HealthCheckRequest { string service = 1 } in a gRPC length-prefixed frame. */
function requestFrame(name) {
  const text = Buffer.from(name, "utf8");
  const message = text.length ? Buffer.concat([Buffer.from([0x0a]), varint(text.length), text]) : Buffer.alloc(0);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

function varint(value) {
  const bytes = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** HealthCheckResponse { ServingStatus status = 1 } from the first frame; absent field = 0 (UNKNOWN). */
function parseStatus(body) {
  if (body.length < 5) throw new Error("empty response");
  if (body[0] !== 0) throw new Error("compressed response not expected");
  const message = body.subarray(5, 5 + body.readUInt32BE(1));
  let status = 0;
  let i = 0;
  while (i < message.length) {
    const key = readVarint(message, i);
    i = key.next;
    const field = key.value >>> 3;
    const wireType = key.value & 7;
    if (wireType === 0) {
      const v = readVarint(message, i);
      i = v.next;
      if (field === 1) status = v.value;
    } else if (wireType === 2) {
      const length = readVarint(message, i);
      i = length.next + length.value;
    } else {
      throw new Error(`unexpected wire type ${wireType}`);
    }
  }
  return status;
}

function readVarint(buffer, start) {
  let value = 0;
  let shift = 0;
  for (let i = start; i < buffer.length; i++) {
    value += (buffer[i] & 0x7f) * 2 ** shift;
    if (!(buffer[i] & 0x80)) return { value, next: i + 1 };
    shift += 7;
  }
  throw new Error("truncated varint");
}

function check() {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${target}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no answer within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    const fail = (error) => {
      clearTimeout(timer);
      session.destroy();
      reject(error);
    };
    session.on("error", fail);
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": `${TIMEOUT_MS}m`,
    });
    const chunks = [];
    let grpcStatus;
    let grpcMessage = "";
    const takeStatus = (headers) => {
      if (headers["grpc-status"] !== undefined) grpcStatus = String(headers["grpc-status"]);
      if (headers["grpc-message"] !== undefined) grpcMessage = decodeURIComponent(String(headers["grpc-message"]));
    };
    // A trailers-only answer (an error) carries grpc-status in the headers.
    stream.on("response", takeStatus);
    stream.on("trailers", takeStatus);
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("error", fail);
    stream.on("end", () => {
      clearTimeout(timer);
      session.close();
      if (grpcStatus !== "0") {
        reject(new Error(`grpc-status ${grpcStatus ?? "missing"}${grpcMessage ? `: ${grpcMessage}` : ""}`));
        return;
      }
      try {
        resolve(parseStatus(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
    stream.end(requestFrame(service));
  });
}

try {
  const status = await check();
  const name = STATUS_NAMES[status] ?? String(status);
  process.stdout.write(`${target}${service ? ` ${service}` : ""}: ${name}\n`);
  process.exit(status === 1 ? 0 : 1);
} catch (error) {
  process.stdout.write(`${target}${service ? ` ${service}` : ""}: DOWN (${error.message})\n`);
  process.exit(1);
}
