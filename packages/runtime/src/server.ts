/**
 * One listening port per service that speaks gRPC, gRPC-Web and Connect/JSON over cleartext HTTP/2 (and
 * Connect/JSON over HTTP/1.1 on an optional second port),
 * with gRPC health, server reflection, tracing and optional bearer-token auth.
 */
import type { DescService } from "@bufbuild/protobuf";
import { type ConnectRouter, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "@ragtune/contracts/grpc-health";
import { ServerReflection } from "@ragtune/contracts/grpc-reflection";
import { ServerReflection as ServerReflectionV1alpha } from "@ragtune/contracts/grpc-reflection-v1alpha";
import { setMaxListeners } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { createHealthService, HealthState, type ReadinessCheck, ServingStatus } from "./health.js";
import { withSpecGrpcMessage } from "./grpc-message.js";
import { createHttp2StreamHandler } from "./h2-handler.js";
import { createCallerAuthInterceptor } from "./caller-auth.js";
import { createServerTracingInterceptor } from "./interceptors.js";
import { createUnaryFastPath } from "./unary-fast-path.js";
import type { Logger } from "./logger.js";
import { createReflectionService } from "./reflection.js";
import { checkServeAuth, logServeAuth } from "./serve-policy.js";

export interface ServiceRegistration {
  service: DescService;
  // A partial implementation: methods left out answer UNIMPLEMENTED.
  impl: object;
}

export interface ServiceServerOptions {
  /** Short service name, e.g. "retriever"; used for the tracer and logs. */
  name: string;
  services: ServiceRegistration[];
  /** Backends that must answer for the server to report SERVING. */
  readiness?: ReadinessCheck[];
  /**
   * When set, every RPC but health checks needs `authorization: Bearer <token>` (or a node agent's credential on
   * nodeMethods). When unset, listen() refuses a non-loopback address unless `insecure`.
   */
  authToken?: string;
  /** Serve without a token on non-loopback addresses (logged as a warning). */
  insecure?: boolean;
  /** "<service type name>/<method>" of the RPCs node agents call with their own credential. */
  nodeMethods?: Iterable<string>;
  /**
   * Largest request message accepted, bytes (each message of a stream); larger ones fail RESOURCE_EXHAUSTED and
   * are not read into memory. Default 16 MiB (connect's own default is 4 GiB).
   */
  maxRequestBytes?: number;
  /** Most calls one HTTP/2 connection may have open at once; default 1000 (node's own: unlimited). */
  maxConcurrentStreams?: number;
  /**
   * Unary gRPC calls skip connect's generic handler pipeline (unary-fast-path.ts), with the same answers; default
   * true. False serves every call through connect's handler (the benches compare the two).
   */
  unaryFastPath?: boolean;
  /** Server spans per RPC; default true. */
  tracing?: boolean;
  /** How often readiness is re-checked, ms; default 2000. */
  healthIntervalMs?: number;
  interceptors?: Interceptor[];
  logger?: Logger;
  /**
   * Responses of at least this many bytes are compressed (gzip, br) for clients that accept it; default: never
   * (connect's own default is 1 KiB). Compressed requests are accepted either way.
   */
  compressMinBytes?: number;
}

export const DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_CONCURRENT_STREAMS = 1000;

export interface ListeningAddress {
  host: string;
  port: number;
  /** http://host:port, usable as a connect/gRPC base URL. */
  url: string;
}

export interface ServiceServer {
  readonly health: HealthState;
  readonly address: ListeningAddress | undefined;
  /** The HTTP/1.1 (Connect/JSON) address, when one was given to listen(). */
  readonly httpAddress: ListeningAddress | undefined;
  /** Listens for gRPC/Connect over HTTP/2 on `address`, and for Connect over HTTP/1.1 on `httpAddress` if given. */
  listen(address?: string, httpAddress?: string): Promise<ListeningAddress>;
  /** Health to NOT_SERVING, stop accepting, let in-flight calls finish within graceMs, then cut the rest. */
  close(graceMs?: number): Promise<void>;
}

export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d+)$/.exec(address);
  if (!match) throw new Error(`address "${address}" is not host:port`);
  return { host: match[1].replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

async function listenOn(server: net.Server, addr: string): Promise<ListeningAddress> {
  const { host, port } = parseAddress(addr);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  const urlHost = bound.address.includes(":") ? `[${bound.address}]` : bound.address;
  return { host: bound.address, port: bound.port, url: `http://${urlHost}:${bound.port}` };
}

export function createServiceServer(options: ServiceServerOptions): ServiceServer {
  const serviceNames = options.services.map((s) => s.service.typeName);
  const health = new HealthState(serviceNames, options.readiness ?? [], (status, reason) =>
    options.logger?.[status === ServingStatus.SERVING ? "info" : "warn"]("health changed", {
      status: ServingStatus[status],
      reason,
    }),
  );
  const interceptors: Interceptor[] = [];
  if (options.authToken) {
    interceptors.push(createCallerAuthInterceptor({ token: options.authToken, nodeMethods: options.nodeMethods }));
  }
  if (options.tracing !== false) interceptors.push(createServerTracingInterceptor(`ragtune.${options.name}`));
  interceptors.push(...(options.interceptors ?? []));
  const reflected = [...options.services.map((s) => s.service), Health, ServerReflection, ServerReflectionV1alpha];
  const reflection = createReflectionService(reflected);
  const shutdown = new AbortController();
  // Every in-flight call listens on this signal; their number is bounded by the server's load, not a leak.
  setMaxListeners(0, shutdown.signal);

  const routerOptions = {
    interceptors,
    // connect gzips every response of 1 KiB or more for clients that accept it (connect and grpc-js clients all
    // do); between services that costs more than it saves: about 0.6 ms per 8 KB retriever search response on
    // 2 shared cores (services/retriever/README.md, Bench). Compressed requests are still accepted.
    compressMinBytes: options.compressMinBytes ?? Number.POSITIVE_INFINITY,
    acceptCompression: [compressionGzip, compressionBrotli],
    readMaxBytes: options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
    shutdownSignal: shutdown.signal,
  };
  const implementations: ServiceRegistration[] = [
    ...options.services,
    { service: Health, impl: createHealthService(health) },
    { service: ServerReflection, impl: reflection },
    { service: ServerReflectionV1alpha, impl: reflection },
  ];
  const routes = (router: ConnectRouter) => {
    for (const { service, impl } of implementations) router.service(service, impl as never);
  };
  const router = createConnectRouter(routerOptions);
  routes(router);

  // gRPC needs HTTP/2; cleartext HTTP/2 (h2c, prior knowledge) serves gRPC, gRPC-Web and Connect/JSON on one
  // port (curl --http2-prior-knowledge). Node cannot hand a sniffed socket to its native HTTP/2 parser, so plain
  // HTTP/1.1 gets a port of its own when httpAddress is given.
  // HTTP/2 streams go to connect's handlers directly rather than through node's http2 compatibility API
  // (connectNodeAdapter): server CPU per call 0.91 -> 0.78 ms on a 7.9 KB search (services/retriever/README.md, Bench).
  const listener = http2.createServer({
    settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS },
  });
  // Unary gRPC calls (every service-to-service call but watches and streams) skip connect's async-iterable
  // pipeline: generator process CPU per call 1.39 -> 1.20 ms in one bench run (services/generator/README.md).
  const unary = options.unaryFastPath === false ? undefined : createUnaryFastPath(implementations, routerOptions);
  listener.on("stream", createHttp2StreamHandler({ handlers: router.handlers, trailers: withSpecGrpcMessage, unary }));
  const handler = connectNodeAdapter({ ...routerOptions, routes });
  const h1 = http.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  listener.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();
  h1.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  let address: ListeningAddress | undefined;
  let httpAddress: ListeningAddress | undefined;
  return {
    health,
    get address() {
      return address;
    },
    get httpAddress() {
      return httpAddress;
    },
    async listen(addr = "127.0.0.1:0", httpAddr?: string) {
      const addresses = httpAddr ? [addr, httpAddr] : [addr];
      const mode = checkServeAuth({ addresses, authToken: options.authToken, insecure: options.insecure });
      logServeAuth(mode, options.logger, addresses);
      address = await listenOn(listener, addr);
      if (httpAddr) httpAddress = await listenOn(h1, httpAddr);
      await health.refresh();
      health.startPolling(options.healthIntervalMs ?? 2000);
      return address;
    },
    async close(graceMs = 8000) {
      health.drain();
      const closed = Promise.all([
        new Promise<void>((resolve) => listener.close(() => resolve())),
        httpAddress ? new Promise<void>((resolve) => h1.close(() => resolve())) : undefined,
      ]);
      // GOAWAY: clients finish their streams and open no new ones here.
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([closed, deadline]);
      // Past the grace period: abort handlers still running and cut their connections.
      shutdown.abort();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
