/**
 * The life of a worker process: one that serves no RPCs but works for a service (the trainer's node agent). It
 * gets what runService gives a server, in the same order: telemetry before anything is traced, configuration
 * validated and printed with secrets masked (a bad setting exits 2 naming it), NATS, then the worker; on
 * SIGTERM/SIGINT the worker stops first, NATS drains, and telemetry shuts down last so the final spans leave.
 */
import {
  type ConfigOf,
  ConfigError,
  commonSettings,
  describeConfig,
  loadConfig,
  natsSettings,
  type Setting,
} from "./config.js";
import { createLogger, type Logger, type LogLevel } from "./logger.js";
import { setBucketLimitDefaults } from "./bucket-limits.js";
import { setDefaultCallTimeoutMs } from "./client.js";
import { connectNats, type NatsHandle } from "./nats.js";
import { type NatsAuthOptions, natsAuthFromConfig } from "./nats-auth.js";
import { initTelemetry } from "./telemetry.js";

type SettingsSpec = Record<string, Setting<any>>;

/**
 * Settings every worker understands, as for services: NATS_URL with its auth, TLS and bucket limits,
 * RAGTUNE_CALL_TIMEOUT_MS and RAGTUNE_LOG_LEVEL.
 */
export function workerSettings() {
  const { logLevel, defaultCallTimeoutMs } = commonSettings("worker");
  return { ...natsSettings(), defaultCallTimeoutMs, logLevel };
}

type WorkerSettings = ReturnType<typeof workerSettings>;

export interface WorkerContext<S extends SettingsSpec> {
  config: ConfigOf<WorkerSettings> & ConfigOf<S>;
  /** Undefined only when NATS was unreachable and `runsWithoutNats` allowed going on without it. */
  nats: NatsHandle | undefined;
  logger: Logger;
}

export interface StartedWorker {
  /** Stops the worker's own work; NATS and telemetry are closed after it by runWorker. */
  stop(): Promise<void>;
}

export interface RunWorkerOptions<S extends SettingsSpec, W extends StartedWorker> {
  /** Short name, e.g. "agent": process name `ragtune-<name>` in telemetry, NATS and errors; the log name. */
  name: string;
  settings?: S;
  /** Checks across settings once each has parsed; throw ConfigError with the setting's name. */
  validate?: (config: ConfigOf<WorkerSettings> & ConfigOf<S>) => void;
  /**
   * When the worker can do without NATS under this configuration: what it cannot do then (logged as a warning
   * when NATS is unreachable). Undefined: NATS is required and an unreachable one exits 1.
   */
  runsWithoutNats?: (config: ConfigOf<WorkerSettings> & ConfigOf<S>) => string | undefined;
  start: (ctx: WorkerContext<S>) => Promise<W>;
  env?: Record<string, string | undefined>;
  argv?: readonly string[];
}

export interface RunningWorker<W> {
  worker: W;
  /** The ordered stop the signals run; safe to call more than once. */
  stop(): Promise<void>;
}

/** Longest an ordered stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 10_000;

export async function runWorker<S extends SettingsSpec, W extends StartedWorker>(
  options: RunWorkerOptions<S, W>,
): Promise<RunningWorker<W>> {
  const processName = `ragtune-${options.name}`;
  const env = options.env ?? process.env;
  const argv = options.argv ?? process.argv.slice(2);
  // Before anything traced: the worker's spans join the traces its work carries (exported when OTEL_* says so).
  const telemetry = initTelemetry({ serviceName: processName, env });
  const spec = { ...workerSettings(), ...(options.settings ?? ({} as S)) };
  let config: ConfigOf<WorkerSettings> & ConfigOf<S>;
  let natsAuth: NatsAuthOptions;
  try {
    config = loadConfig(spec, env, argv) as ConfigOf<WorkerSettings> & ConfigOf<S>;
    natsAuth = natsAuthFromConfig(config);
    setBucketLimitDefaults(config);
    setDefaultCallTimeoutMs(config.defaultCallTimeoutMs);
    options.validate?.(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${processName}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(options.name, { level: config.logLevel as LogLevel });
  logger.info("configuration", { config: describeConfig(spec, config as ConfigOf<typeof spec>) });

  let nats: NatsHandle | undefined;
  try {
    nats = await connectNats({
      url: config.natsUrl,
      name: processName,
      auth: natsAuth,
      eventsMaxBytes: config.eventsMaxBytes,
      logger,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${processName}: ${error.message}\n`);
      process.exit(2);
    }
    const without = options.runsWithoutNats?.(config);
    if (without === undefined) {
      logger.error("cannot start without NATS", { error: (error as Error).message });
      process.stderr.write(`${processName}: ${(error as Error).message}\n`);
      await telemetry.shutdown();
      process.exit(1);
    }
    logger.warn(`running without NATS: ${without}`, { error: String(error) });
  }

  const worker = await options.start({ config, nats, logger });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info("stopping");
      const force = setTimeout(() => {
        logger.error(`stopping took longer than ${STOP_DEADLINE_MS / 1000} s; exiting`);
        process.exit(1);
      }, STOP_DEADLINE_MS);
      force.unref();
      await worker.stop().catch((error) => logger.error("worker stop failed", { error: String(error) }));
      await nats?.close().catch((error) => logger.error("NATS drain failed", { error: String(error) }));
      logger.info("stopped");
      await telemetry.shutdown();
      clearTimeout(force);
    })();
    return stopping;
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => void stop().then(() => process.exit(0)));
  }
  return { worker, stop };
}
