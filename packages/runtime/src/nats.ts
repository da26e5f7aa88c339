/**
 * NATS and JetStream: one connection per process with endless reconnect, idempotent stream set-up, and event
 * publishing with deduplication ids and W3C trace context in the headers.
 *
 * Events live in stream RAGTUNE_EVENTS on subjects `ragtune.<service>.<entity>.<event>` (exactly four tokens).
 * Internal work queues and state must use other subjects (e.g. `ragtune-work.…`, or KV / Object Store buckets)
 * since JetStream forbids two streams with overlapping subjects.
 */
import {
  create,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
  toBinary,
  fromBinary,
} from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { EventMetaSchema } from "@ragtune/contracts/events";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { DEFAULT_EVENTS_MAX_BYTES } from "./bucket-limits.js";
import type { Logger } from "./logger.js";
import { describeNatsAuth, type NatsAuthOptions, natsConnectOptions } from "./nats-auth.js";
import { extractTraceContext, injectTraceContext } from "./telemetry.js";

export const EVENTS_STREAM = "RAGTUNE_EVENTS";
export const EVENTS_SUBJECTS = ["ragtune.*.*.*"];

export interface NatsOptions {
  /** Comma-separated server URLs. */
  url: string;
  /** Connection name shown by the server, e.g. "ragtune-retriever". */
  name: string;
  /** First-connect timeout, ms; default 3000. A process that cannot reach NATS at start fails fast. */
  connectTimeoutMs?: number;
  /** Byte limit of the events stream; default 256 MiB. Events older than 7 days are dropped either way. */
  eventsMaxBytes?: number;
  /** Credentials and TLS; default none (a server without auth, e.g. the local one in tests). */
  auth?: NatsAuthOptions;
  logger?: Logger;
}

export interface NatsHandle {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kvm: Kvm;
  objm: Objm;
  /** False while the connection is down (it keeps reconnecting on its own). */
  readonly connected: boolean;
  /** Throws while NATS is unreachable; a readiness check. */
  ping(): Promise<void>;
  /** Publishes an event; fills `meta` (id, time, source) when the message has one and it is unset. */
  publishEvent<D extends DescMessage>(subject: string, schema: D, message: MessageInitShape<D>): Promise<void>;
  /** Flushes and drains the connection. */
  close(): Promise<void>;
}

export class NatsUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`cannot reach NATS at ${url}: ${(cause as Error).message ?? cause}`);
    this.name = "NatsUnavailableError";
  }
}

/**
 * Creates the stream or brings its subjects and limits (max_bytes, max_age) to those given; safe to call from
 * every replica at every start.
 */
export async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }) {
  try {
    const info = await jsm.streams.info(config.name);
    const wanted = config.subjects ?? [];
    const sameSubjects =
      wanted.length === info.config.subjects?.length && wanted.every((s) => info.config.subjects.includes(s));
    const limits = {
      ...(config.max_bytes !== undefined ? { max_bytes: config.max_bytes } : {}),
      ...(config.max_age !== undefined ? { max_age: config.max_age } : {}),
    };
    const sameLimits = Object.entries(limits).every(([k, v]) => info.config[k as keyof StreamConfig] === v);
    if (!sameSubjects || !sameLimits) {
      await jsm.streams.update(config.name, { ...info.config, ...limits, subjects: wanted });
    }
  } catch (error) {
    if (!/stream not found/i.test(String((error as Error).message))) throw error;
    try {
      await jsm.streams.add(config);
    } catch (addError) {
      // Another replica created it between our info and add.
      if (!/already in use|exists/i.test(String((addError as Error).message))) throw addError;
    }
  }
}

export async function connectNats(options: NatsOptions): Promise<NatsHandle> {
  let nc: NatsConnection;
  const servers = options.url.split(",").map((s) => s.trim());
  // Outside the try: a setting that names a missing file is a configuration error, not an unreachable server.
  const auth = natsConnectOptions(options.auth ?? {}, servers);
  try {
    nc = await connect({
      ...auth,
      servers,
      name: options.name,
      timeout: options.connectTimeoutMs ?? 3000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
  } catch (error) {
    throw new NatsUnavailableError(options.url, error);
  }
  options.logger?.info("NATS connected", { auth: describeNatsAuth(options.auth ?? {}) });
  let connected = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        connected = false;
        options.logger?.warn("NATS disconnected", { server: String((status as { server?: string }).server ?? "") });
      } else if (status.type === "reconnect") {
        connected = true;
        options.logger?.info("NATS reconnected");
      }
    }
  })();
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, {
    name: EVENTS_STREAM,
    subjects: EVENTS_SUBJECTS,
    max_age: 7 * 24 * 3600 * 1e9,
    max_bytes: options.eventsMaxBytes ?? DEFAULT_EVENTS_MAX_BYTES,
    // Full: the oldest events go, so publishing never stops.
    discard: DiscardPolicy.Old,
  });
  const source = `${options.name}@${hostname()}`;
  const tracer = trace.getTracer("ragtune.nats");

  return {
    nc,
    js,
    jsm,
    kvm: new Kvm(nc),
    objm: new Objm(nc),
    get connected() {
      return connected && !nc.isClosed();
    },
    async ping() {
      if (!connected || nc.isClosed()) throw new Error("NATS connection is down");
      await nc.flush();
    },
    async publishEvent(subject, schema, init) {
      const message = create(schema, init) as MessageShape<typeof schema> & { meta?: { eventId: string } };
      if (schema.fields.some((f) => f.localName === "meta") && !message.meta) {
        (message as Record<string, unknown>).meta = create(EventMetaSchema, {
          eventId: randomUUID(),
          time: timestampNow(),
          source,
        });
      }
      const msgID = message.meta?.eventId || randomUUID();
      const span = tracer.startSpan(`${subject} publish`, {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "messaging.destination.name": subject,
          "messaging.message.id": msgID,
        },
      });
      const hdrs = headers();
      context.with(trace.setSpan(context.active(), span), () => injectTraceContext((k, v) => hdrs.set(k, v)));
      try {
        await js.publish(subject, toBinary(schema, message), { msgID, headers: hdrs });
      } finally {
        span.end();
      }
    },
    async close() {
      if (nc.isClosed()) return;
      await nc.drain();
    },
  };
}

export interface ConsumeOptions<D extends DescMessage> {
  /** Durable consumer name: one per reacting component, shared by its replicas. */
  durable: string;
  subject: string;
  schema: D;
  handler: (event: MessageShape<D>) => Promise<void>;
  /** Messages handled at once; default 4. */
  concurrency?: number;
  logger?: Logger;
}

/**
 * Consumes events with a durable consumer and explicit acks: a handler that throws gets the event redelivered
 * (nak with delay). Runs each handler in the publisher's trace context. Returns a stop function.
 */
export async function consumeEvents<D extends DescMessage>(nats: NatsHandle, options: ConsumeOptions<D>) {
  await nats.jsm.consumers
    .add(EVENTS_STREAM, {
      durable_name: options.durable,
      filter_subject: options.subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      max_ack_pending: options.concurrency ?? 4,
    })
    .catch((error: Error) => {
      if (!/already in use|exists/i.test(error.message)) throw error;
    });
  const consumer = await nats.js.consumers.get(EVENTS_STREAM, options.durable);
  const messages = await consumer.consume({ max_messages: options.concurrency ?? 4 });
  const tracer = trace.getTracer("ragtune.nats");
  void (async () => {
    for await (const msg of messages) {
      const parent = extractTraceContext((key) => msg.headers?.get(key) || undefined);
      const span = tracer.startSpan(`${msg.subject} process`, { kind: SpanKind.CONSUMER }, parent);
      try {
        await context.with(trace.setSpan(parent, span), () => options.handler(fromBinary(options.schema, msg.data)));
        msg.ack();
      } catch (error) {
        options.logger?.error("event handler failed", { subject: msg.subject, error });
        msg.nak(1000);
      } finally {
        span.end();
      }
    }
  })();
  return () => messages.stop();
}
