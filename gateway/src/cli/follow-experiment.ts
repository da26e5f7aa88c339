/**
 * Following a run from the CLI: the gateway's watch stream drawn as progress, until the run ends, the person
 * detaches (Ctrl-C: the run goes on), or the gateway goes away (the run is kept and resumes).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type Experiment, ExperimentState } from "@ragtune/contracts/gateway";
import type { GatewayClient } from "./gateway-client.js";
import { createProgressView, type ProgressOutput } from "./progress-view.js";

export const FINISHED_STATES = new Set([ExperimentState.SUCCEEDED, ExperimentState.FAILED, ExperimentState.CANCELLED]);

export type FollowEnd =
  | { how: "finished"; experiment: Experiment }
  | { how: "detached"; experiment?: Experiment }
  | { how: "lost"; reason: string; experiment?: Experiment };

/** Codes of a stream that broke because the gateway (or the connection to it) went away. */
const LOST = new Set([Code.Unavailable, Code.Canceled, Code.Unknown, Code.Internal, Code.DeadlineExceeded]);

export async function followExperiment(options: {
  client: GatewayClient;
  experimentId: string;
  out: ProgressOutput;
  /** Aborted when the person detaches (Ctrl-C). */
  detach: AbortSignal;
  everyMs?: number;
}): Promise<FollowEnd> {
  const view = createProgressView(options.out, { everyMs: options.everyMs });
  const timer = setInterval(() => view.tick(), options.out.isTTY ? 1000 : Math.min(options.everyMs ?? 30_000, 5000));
  let last: Experiment | undefined;
  try {
    const stream = options.client.watchExperiment({ experimentId: options.experimentId }, { signal: options.detach });
    for await (const { experiment } of stream) {
      last = experiment!;
      view.update(last);
    }
    view.close();
    if (last && FINISHED_STATES.has(last.state)) return { how: "finished", experiment: last };
    // The gateway ends its streams cleanly when it shuts down, with the run still going.
    return { how: "lost", reason: "the gateway closed the watch stream while the run was going on", experiment: last };
  } catch (error) {
    view.close();
    if (options.detach.aborted) return { how: "detached", experiment: last };
    const e = ConnectError.from(error);
    if (!LOST.has(e.code)) throw e;
    return { how: "lost", reason: e.rawMessage, experiment: last };
  } finally {
    clearInterval(timer);
  }
}

/** `--every S` in milliseconds (undefined when not given), or what is wrong with it. */
export function everyOption(command: string, seconds: string | undefined): { ms?: number; error?: string } {
  if (seconds === undefined) return {};
  if (Number(seconds) > 0) return { ms: Number(seconds) * 1000 };
  return { error: `ragtune ${command}: --every must be a number of seconds > 0, got "${seconds}"` };
}

/** Aborts on the first Ctrl-C (and SIGTERM) while following; a second one exits at once. */
export function detachOnInterrupt(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error("detached"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
