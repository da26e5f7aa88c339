import { trace } from "@opentelemetry/api";

export type LogLevel = "debug" | "info" | "warn" | "error";
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default stderr, so stdout stays free for a program's own output. */
  write?: (line: string) => void;
}

/** JSON lines with the active span's trace and span ids, so logs join traces. */
export function createLogger(service: string, options: LoggerOptions = {}, base: Record<string, unknown> = {}): Logger {
  const level = options.level ?? ((process.env.RAGTUNE_LOG_LEVEL as LogLevel | undefined) || "info");
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (rank[lvl] < (rank[level] ?? 20)) return;
    const span = trace.getActiveSpan()?.spanContext();
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, service, msg, ...base };
    if (span) {
      record.trace_id = span.traceId;
      record.span_id = span.spanId;
    }
    if (fields) {
      for (const [k, v] of Object.entries(fields)) record[k] = v instanceof Error ? v.message : v;
    }
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    child: (fields) => createLogger(service, options, { ...base, ...fields }),
  };
}
