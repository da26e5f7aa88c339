/**
 * How a process proves itself to NATS and checks the server: one of token, user/password, NKey seed or a
 * credentials (.creds) file, and TLS with the cluster's CA and an optional client certificate. Read from settings
 * (natsSettings in config.ts) at start-up; files are read then, so a missing one fails fast with its setting's name.
 */
import { credsAuthenticator, type NodeConnectionOptions, nkeyAuthenticator } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { ConfigError } from "./config.js";

export interface NatsAuthOptions {
  token?: string;
  user?: string;
  password?: string;
  /** File holding an NKey user seed (SU…). */
  nkeySeedFile?: string;
  /** A .creds file: user JWT and seed (decentralised auth, `nsc generate creds`). */
  credsFile?: string;
  /** CA bundle the server's certificate must chain to; setting it turns TLS on. */
  tlsCaFile?: string;
  /** Client certificate and key, for servers that verify clients (tls { verify: true }). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** TLS with the system's CAs when no CA file is given. */
  tls?: boolean;
}

type NatsAuthConfig = {
  natsToken?: string;
  natsUser?: string;
  natsPassword?: string;
  natsNkeySeedFile?: string;
  natsCredsFile?: string;
  natsTlsCaFile?: string;
  natsTlsCertFile?: string;
  natsTlsKeyFile?: string;
};

/** The auth options from loaded settings; throws ConfigError naming the setting when they contradict. */
export function natsAuthFromConfig(config: NatsAuthConfig): NatsAuthOptions {
  const modes = [
    config.natsToken && "NATS_TOKEN",
    (config.natsUser || config.natsPassword) && "NATS_USER/NATS_PASSWORD",
    config.natsNkeySeedFile && "NATS_NKEY_SEED_FILE",
    config.natsCredsFile && "NATS_CREDS_FILE",
  ].filter(Boolean);
  if (modes.length > 1) throw new ConfigError(modes[1] as string, `cannot be combined with ${modes[0]}`);
  if (config.natsUser && !config.natsPassword) throw new ConfigError("NATS_PASSWORD", "is required with NATS_USER");
  if (config.natsPassword && !config.natsUser) throw new ConfigError("NATS_USER", "is required with NATS_PASSWORD");
  if (!config.natsTlsCertFile !== !config.natsTlsKeyFile) {
    throw new ConfigError(config.natsTlsCertFile ? "NATS_TLS_KEY_FILE" : "NATS_TLS_CERT_FILE", "comes in a pair");
  }
  return {
    token: config.natsToken || undefined,
    user: config.natsUser || undefined,
    password: config.natsPassword || undefined,
    nkeySeedFile: config.natsNkeySeedFile || undefined,
    credsFile: config.natsCredsFile || undefined,
    tlsCaFile: config.natsTlsCaFile || undefined,
    tlsCertFile: config.natsTlsCertFile || undefined,
    tlsKeyFile: config.natsTlsKeyFile || undefined,
  };
}

function readSetting(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(setting, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

/** The connect options for the auth; "tls://" server URLs also turn TLS on. */
export function natsConnectOptions(auth: NatsAuthOptions, urls: readonly string[]): Partial<NodeConnectionOptions> {
  const options: Partial<NodeConnectionOptions> = {};
  if (auth.token) options.token = auth.token;
  if (auth.user) {
    options.user = auth.user;
    options.pass = auth.password;
  }
  if (auth.nkeySeedFile) {
    const seed = new TextEncoder().encode(readSetting("NATS_NKEY_SEED_FILE", auth.nkeySeedFile).toString().trim());
    options.authenticator = nkeyAuthenticator(seed);
  }
  if (auth.credsFile) {
    options.authenticator = credsAuthenticator(new Uint8Array(readSetting("NATS_CREDS_FILE", auth.credsFile)));
  }
  const wantsTls = auth.tls || auth.tlsCaFile || auth.tlsCertFile || urls.some((url) => /^tls:\/\//i.test(url.trim()));
  if (wantsTls) {
    // Contents, not paths: a missing file is reported here with its setting rather than at the first connect.
    options.tls = {
      ...(auth.tlsCaFile ? { ca: readSetting("NATS_TLS_CA_FILE", auth.tlsCaFile).toString() } : {}),
      ...(auth.tlsCertFile ? { cert: readSetting("NATS_TLS_CERT_FILE", auth.tlsCertFile).toString() } : {}),
      ...(auth.tlsKeyFile ? { key: readSetting("NATS_TLS_KEY_FILE", auth.tlsKeyFile).toString() } : {}),
    };
  }
  return options;
}

/** Which auth a connection uses, for the start-up log (never the secret). */
export function describeNatsAuth(auth: NatsAuthOptions): string {
  const mode = auth.token
    ? "token"
    : auth.user
      ? "user/password"
      : auth.nkeySeedFile
        ? "nkey"
        : auth.credsFile
          ? "credentials file"
          : "none";
  return `${mode}${auth.tlsCaFile || auth.tlsCertFile || auth.tls ? " over TLS" : ""}`;
}
