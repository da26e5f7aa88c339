/**
 * Typed configuration from environment variables and command-line flags, validated at start-up.
 * A flag `--retriever-addr=host:port` (or `--retriever-addr host:port`) overrides env RETRIEVER_ADDR.
 */

import { DEFAULT_EVENTS_MAX_BYTES, DEFAULT_KV_MAX_BYTES, DEFAULT_OBJECT_STORE_MAX_BYTES } from "./bucket-limits.js";

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    reason: string,
  ) {
    super(`invalid configuration ${setting}: ${reason}`);
    this.name = "ConfigError";
  }
}

interface SettingBase<T> {
  /** Environment variable name, e.g. "RETRIEVER_ADDR". */
  env: string;
  description: string;
  default?: T;
  /** Masked when the configuration is printed. */
  secret?: boolean;
}

export type Setting<T> = SettingBase<T> & { parse: (raw: string) => T };

export function stringSetting(
  base: SettingBase<string> & { pattern?: RegExp; choices?: readonly string[] },
): Setting<string> {
  return {
    ...base,
    parse(raw) {
      if (base.choices && !base.choices.includes(raw)) throw new Error(`must be one of ${base.choices.join(", ")}`);
      if (base.pattern && !base.pattern.test(raw)) throw new Error(`must match ${base.pattern}`);
      return raw;
    },
  };
}

export function numberSetting(base: SettingBase<number> & { min?: number; max?: number; integer?: boolean }) {
  return {
    ...base,
    parse(raw: string) {
      const value = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(value)) throw new Error("must be a number");
      if (base.integer && !Number.isInteger(value)) throw new Error("must be an integer");
      if (base.min !== undefined && value < base.min) throw new Error(`must be >= ${base.min}`);
      if (base.max !== undefined && value > base.max) throw new Error(`must be <= ${base.max}`);
      return value;
    },
  } satisfies Setting<number>;
}

export function booleanSetting(base: SettingBase<boolean>): Setting<boolean> {
  return {
    ...base,
    parse(raw) {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new Error("must be true or false");
    },
  };
}

/** host:port, port 0..65535; host may be a name, IPv4 or [IPv6]. */
/** Absolute folders, comma separated; default none. */
export function folderListSetting(base: SettingBase<string[]>): Setting<string[]> {
  return {
    default: [],
    ...base,
    parse(raw) {
      const folders = raw
        .split(",")
        .map((f) => f.trim())
        .filter(Boolean);
      const relative = folders.find((f) => !f.startsWith("/"));
      if (relative !== undefined) throw new Error(`"${relative}" is not an absolute path`);
      return folders;
    },
  };
}

export function addressSetting(base: SettingBase<string>): Setting<string> {
  return stringSetting({ ...base, pattern: /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/ });
}

export function urlSetting(base: SettingBase<string> & { protocols?: readonly string[] }): Setting<string> {
  return {
    ...base,
    parse(raw) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error("must be a URL");
      }
      if (base.protocols && !base.protocols.includes(url.protocol.replace(/:$/, ""))) {
        throw new Error(`must use ${base.protocols.join(" or ")}`);
      }
      return raw;
    },
  };
}

/** An http:// or https:// URL: an endpoint the services call over HTTP (model APIs, Qdrant, the trainer). */
export function httpUrlSetting(base: SettingBase<string>): Setting<string> {
  return urlSetting({ ...base, protocols: ["http", "https"] });
}

type SettingsSpec = Record<string, Setting<any>>;
export type ConfigOf<S extends SettingsSpec> = {
  [K in keyof S]: S[K] extends Setting<infer T> ? (S[K]["default"] extends undefined ? T | undefined : T) : never;
};

/** Flags given as `--name-of-setting=value` or `--name-of-setting value`, keyed by their env name. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) continue;
    const eq = arg.indexOf("=");
    const name = (eq >= 0 ? arg.slice(2, eq) : arg.slice(2)).toUpperCase().replaceAll("-", "_");
    if (eq >= 0) out[name] = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out[name] = argv[++i];
    else out[name] = "true";
  }
  return out;
}

export function loadConfig<S extends SettingsSpec>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = process.argv.slice(2),
): ConfigOf<S> {
  const flags = flagsToEnv(argv);
  const config: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(spec)) {
    const raw = flags[setting.env] ?? env[setting.env];
    if (raw === undefined || raw === "") {
      config[key] = setting.default;
      continue;
    }
    try {
      config[key] = setting.parse(raw);
    } catch (error) {
      throw new ConfigError(setting.env, (error as Error).message);
    }
  }
  return config as ConfigOf<S>;
}

/** The configuration as it may be printed: every secret masked. */
export function describeConfig<S extends SettingsSpec>(spec: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(spec)) {
    const value = (config as Record<string, unknown>)[key];
    out[setting.env] = setting.secret && value !== undefined && value !== "" ? "****" : value;
  }
  return out;
}

/** The NATS settings every process reads . */
export function natsSettings() {
  return {
    natsUrl: stringSetting({
      env: "NATS_URL",
      description: "NATS server URL(s), comma separated (tls://… for TLS)",
      default: "nats://127.0.0.1:4222",
    }),
    natsToken: stringSetting({ env: "NATS_TOKEN", description: "NATS auth token", secret: true }),
    natsUser: stringSetting({ env: "NATS_USER", description: "NATS user name (with NATS_PASSWORD)" }),
    natsPassword: stringSetting({ env: "NATS_PASSWORD", description: "NATS password", secret: true }),
    natsNkeySeedFile: stringSetting({ env: "NATS_NKEY_SEED_FILE", description: "file with the NATS NKey user seed" }),
    natsCredsFile: stringSetting({
      env: "NATS_CREDS_FILE",
      description: "NATS credentials file (.creds: JWT and seed)",
    }),
    natsTlsCaFile: stringSetting({
      env: "NATS_TLS_CA_FILE",
      description: "CA bundle for the NATS server's certificate",
    }),
    natsTlsCertFile: stringSetting({ env: "NATS_TLS_CERT_FILE", description: "client certificate for NATS (PEM)" }),
    natsTlsKeyFile: stringSetting({ env: "NATS_TLS_KEY_FILE", description: "client certificate's key for NATS (PEM)" }),
    kvMaxBytes: numberSetting({
      env: "RAGTUNE_KV_MAX_BYTES",
      description: "byte limit of each JetStream KV bucket that sets none of its own",
      default: DEFAULT_KV_MAX_BYTES,
      min: 1024 * 1024,
      integer: true,
    }),
    objectStoreMaxBytes: numberSetting({
      env: "RAGTUNE_OBJECT_STORE_MAX_BYTES",
      description: "byte limit of each JetStream object store (adapters, manifests, answers)",
      default: DEFAULT_OBJECT_STORE_MAX_BYTES,
      min: 1024 * 1024,
      integer: true,
    }),
    eventsMaxBytes: numberSetting({
      env: "RAGTUNE_EVENTS_MAX_BYTES",
      description: "byte limit of the events stream (oldest events dropped first; 7 days at most)",
      default: DEFAULT_EVENTS_MAX_BYTES,
      min: 1024 * 1024,
      integer: true,
    }),
  };
}

/** Settings every ragtune process understands. */
export function commonSettings(service: string) {
  const upper = service.toUpperCase();
  return {
    addr: addressSetting({
      env: `${upper}_ADDR`,
      description: `host:port the ${service} listens on (port 0: any free port)`,
      default: "127.0.0.1:0",
    }),
    ...natsSettings(),
    authToken: stringSetting({
      env: "RAGTUNE_AUTH_TOKEN",
      description: "bearer token every RPC must carry; empty: no auth, allowed on loopback or with RAGTUNE_INSECURE",
      secret: true,
    }),
    insecure: booleanSetting({
      env: "RAGTUNE_INSECURE",
      description: "serve without RAGTUNE_AUTH_TOKEN on a non-loopback address (also --insecure); logged as a warning",
      default: false,
    }),
    maxRequestBytes: numberSetting({
      env: "RAGTUNE_MAX_REQUEST_BYTES",
      description: "largest request message (each message of a stream) a server accepts, bytes",
      default: 16 * 1024 * 1024,
      min: 1024,
      max: 2 ** 31 - 1,
      integer: true,
    }),
    maxConcurrentStreams: numberSetting({
      env: "RAGTUNE_MAX_CONCURRENT_STREAMS",
      description: "most calls one HTTP/2 connection may have open at once",
      default: 1000,
      min: 1,
      max: 2 ** 31 - 1,
      integer: true,
    }),
    defaultCallTimeoutMs: numberSetting({
      env: "RAGTUNE_CALL_TIMEOUT_MS",
      description: "deadline of a unary call to another service when the caller sets none, ms (0: none)",
      default: 600_000,
      min: 0,
      integer: true,
    }),
    shutdownGraceMs: numberSetting({
      env: "RAGTUNE_SHUTDOWN_GRACE_MS",
      description: "time allowed to drain in-flight calls on SIGTERM, ms",
      default: 8000,
      min: 0,
      max: 60000,
      integer: true,
    }),
    logLevel: stringSetting({
      env: "RAGTUNE_LOG_LEVEL",
      description: "debug | info | warn | error",
      default: "info",
      choices: ["debug", "info", "warn", "error"],
    }),
  };
}
