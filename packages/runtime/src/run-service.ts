/**
 * The life of a service process: telemetry, configuration (validated, printed with secrets masked), NATS,
 * the server on its address, and the ordered shutdown on SIGTERM/SIGINT.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ConfigOf, ConfigError, commonSettings, describeConfig, loadConfig, type Setting } from "./config.js";
import type { ReadinessCheck } from "./health.js";
import { createLogger, type Logger, type LogLevel } from "./logger.js";
import { setBucketLimitDefaults } from "./bucket-limits.js";
import { setDefaultCallTimeoutMs } from "./client.js";
import { connectNats, type NatsHandle } from "./nats.js";
import { type NatsAuthOptions, natsAuthFromConfig } from "./nats-auth.js";
import { createServiceServer, type ServiceRegistration, type ServiceServer } from "./server.js";
import { checkServeAuth, insecureFlag, type ServeAuthMode } from "./serve-policy.js";
import { initTelemetry } from "./telemetry.js";

type SettingsSpec = Record<string, Setting<any>>;
type CommonSettings = ReturnType<typeof commonSettings>;

export interface ServiceContext<S extends SettingsSpec> {
  config: ConfigOf<CommonSettings> & ConfigOf<S>;
  nats: NatsHandle;
  logger: Logger;
}

export interface BuiltService {
  services: ServiceRegistration[];
  /** Backends that must answer (NATS is always checked). */
  readiness?: ReadinessCheck[];
  /** Largest request message this service accepts, bytes, when it needs more than RAGTUNE_MAX_REQUEST_BYTES. */
  maxRequestBytes?: number;
  /** RPCs node agents call with their own credential ("<service type name>/<method>"). */
  nodeMethods?: string[];
  /** Closes the service's backends; runs after in-flight calls drained, before NATS closes. */
  onShutdown?: () => Promise<void>;
}

export interface RunServiceOptions<S extends SettingsSpec> {
  /** Short name, e.g. "retriever": env prefix, tracer and log name. */
  name: string;
  settings?: S;
  build: (ctx: ServiceContext<S>) => Promise<BuiltService>;
}

/** True when the module with this import.meta.url is the process's entry point. */
export function isEntryPoint(metaUrl: string): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(fileURLToPath(metaUrl)) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
}

export interface RunningService {
  server: ServiceServer;
  stop(): Promise<void>;
}

export async function runService<S extends SettingsSpec>(options: RunServiceOptions<S>): Promise<RunningService> {
  const telemetry = initTelemetry({ serviceName: `ragtune-${options.name}` });
  const commonSpec = commonSettings(options.name);
  const ownSpec = options.settings ?? ({} as S);
  let config: ConfigOf<CommonSettings>;
  let own: ConfigOf<S>;
  let natsAuth: NatsAuthOptions;
  let authMode: ServeAuthMode;
  try {
    config = loadConfig(commonSpec);
    own = loadConfig(ownSpec);
    natsAuth = natsAuthFromConfig(config);
    setBucketLimitDefaults(config);
    setDefaultCallTimeoutMs(config.defaultCallTimeoutMs);
    // Before NATS: a server that would be open to other hosts does not get as far as connecting.
    authMode = checkServeAuth({
      addresses: [config.addr],
      authToken: config.authToken,
      insecure: config.insecure || insecureFlag(process.argv.slice(2)),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`ragtune-${options.name}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(options.name, { level: config.logLevel as LogLevel });
  logger.info("configuration", {
    config: { ...describeConfig(commonSpec, config), ...describeConfig(ownSpec, own) },
  });

  let nats: NatsHandle;
  try {
    nats = await connectNats({
      url: config.natsUrl,
      name: `ragtune-${options.name}`,
      auth: natsAuth,
      eventsMaxBytes: config.eventsMaxBytes,
      logger,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`ragtune-${options.name}: ${error.message}\n`);
      process.exit(2);
    }
    logger.error("cannot start without NATS", { error: (error as Error).message });
    process.stderr.write(`ragtune-${options.name}: ${(error as Error).message}\n`);
    await telemetry.shutdown();
    process.exit(1);
  }

  const built = await options.build({ config: { ...config, ...own }, nats, logger });
  const server = createServiceServer({
    name: options.name,
    services: built.services,
    readiness: [{ name: "nats", check: () => nats.ping() }, ...(built.readiness ?? [])],
    authToken: config.authToken,
    insecure: authMode === "insecure",
    nodeMethods: built.nodeMethods,
    maxRequestBytes: built.maxRequestBytes ?? config.maxRequestBytes,
    maxConcurrentStreams: config.maxConcurrentStreams,
    logger,
  });
  const address = await server.listen(config.addr);
  logger.info("listening", { url: address.url, health: grpcStatusName(server) });
  // One machine-readable line on stdout: the launcher and tests read the bound address from it.
  process.stdout.write(`${JSON.stringify({ event: "listening", service: options.name, url: address.url })}\n`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info("shutting down");
      const force = setTimeout(() => {
        logger.error("shutdown took longer than 10 s; exiting");
        process.exit(1);
      }, 10_000);
      force.unref();
      await server.close(config.shutdownGraceMs);
      await built.onShutdown?.().catch((error) => logger.error("backend shutdown failed", { error }));
      await nats.close().catch((error) => logger.error("NATS drain failed", { error }));
      logger.info("stopped");
      await telemetry.shutdown();
    })();
    return stopping;
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => void stop().then(() => process.exit(0)));
  }
  return { server, stop };
}

function grpcStatusName(server: ServiceServer): string {
  return server.health.status("") === 1 ? "SERVING" : "NOT_SERVING";
}
