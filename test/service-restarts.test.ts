/**
 * The gateway rides out services that go away: with the real processes of the stack, the generator and the judge
 * are killed (SIGKILL) before a run reaches them and started again on the same ports once the gateway is seen
 * retrying; the run finishes with the same results as an uninterrupted run of the same spec. A gateway that
 * treated UNAVAILABLE as fatal fails this run.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Experiment, ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { stackServices } from "@ragtune/gateway";
import { type LocalStack, startLocalStack } from "@ragtune/gateway/local-stack";
import { createServiceClient } from "@ragtune/runtime";
import { readerExperimentSpec } from "./support/reader-experiment.js";
import { startTestStack, type TestStack } from "./support/stack.js";
import { writeSyntheticBioAsq } from "./support/synthetic-bioasq.js";

const RESTARTED = ["generator", "judge"] as const;
/** A service's start from source through tsx, on 2 cores that other tests share. */
const START_TIMEOUT_MS = 180_000;

describe("service restarts during an experiment", () => {
  let stack: TestStack;
  const restarted: LocalStack[] = [];
  let dataDir: string;

  before(async () => {
    // Retries bounded by attempts, not by the time a service takes to start on a busy machine.
    stack = await startTestStack(
      { GATEWAY_RETRY_ATTEMPTS: "200", GATEWAY_RETRY_MAX_MS: "2000", GATEWAY_RETRY_TOTAL_MS: "300000" },
      { startTimeoutMs: START_TIMEOUT_MS },
    );
    dataDir = join(stack.dataDir, "datasets", "bioasq"); // under the gateway's data roots
    mkdirSync(dataDir, { recursive: true });
    writeSyntheticBioAsq(dataDir, 90);
  });
  after(async () => {
    for (const s of restarted) await s.stop();
    await stack?.stop();
  });

  const gateway = () =>
    createServiceClient(ExperimentService, stack.processes.find((p) => p.service.name === "gateway")!.url);
  const spec = () => readerExperimentSpec({ name: "restarts", dataDir, sizes: [0, 30], seed: 11n });

  async function runToEnd(experimentId: string, whileRunning?: () => Promise<void>): Promise<Experiment> {
    await gateway().createExperiment({ experimentId, spec: spec() });
    await gateway().startExperiment({ experimentId });
    await whileRunning?.();
    let last: Experiment | undefined;
    for await (const { experiment } of gateway().watchExperiment({ experimentId })) last = experiment;
    return last!;
  }

  /** What a run's results are, without what names the run itself (its id is in adapter and collection names). */
  async function results(experimentId: string) {
    const { rows } = await gateway().getResults({ experimentId });
    const answers: string[] = [];
    for await (const { record } of gateway().exportAnswers({ experimentId })) {
      answers.push(`${record!.cellKey} ${record!.itemId} ${record!.answer} ${JSON.stringify(record!.scores)}`);
    }
    return {
      rows: rows.map((r) => [r.finetuneSize, r.criterion, r.score?.mean, r.diffVsBase, r.pairedN, r.trainedOn]),
      answers,
    };
  }

  it("finishes with the results of an uninterrupted run when the generator and the judge restart", async () => {
    const clean = await runToEnd("restarts-clean");
    assert.equal(clean.state, ExperimentState.SUCCEEDED, clean.error);

    const killed = stack.processes.filter((p) => (RESTARTED as readonly string[]).includes(p.service.name));
    for (const p of killed) {
      const exited = once(p.child, "exit");
      p.child.kill("SIGKILL");
      await exited;
    }
    const retriesBefore = stack.logs.filter((l) => l.includes('"retrying a call"')).length;
    const faulty = await runToEnd("restarts-faulty", async () => {
      // The run is under way and its calls fail: the gateway backs off and tries again.
      const deadline = Date.now() + 120_000;
      while (stack.logs.filter((l) => l.includes('"retrying a call"')).length <= retriesBefore + 2) {
        assert.ok(Date.now() < deadline, "the gateway never retried a call");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      for (const p of killed) {
        const port = new URL(p.url).port;
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          NATS_URL: stack.natsUrl,
          RAGTUNE_DATA_DIR: stack.dataDir,
          [`${p.service.name.toUpperCase()}_ADDR`]: `127.0.0.1:${port}`,
        };
        restarted.push(
          await startLocalStack({
            env,
            services: stackServices.filter((s) => s.name === p.service.name),
            startTimeoutMs: START_TIMEOUT_MS,
            onLog: (service, line) => stack.logs.push(`[${service} restarted] ${line}`),
          }),
        );
      }
    });
    assert.equal(faulty.state, ExperimentState.SUCCEEDED, `${faulty.error}\n${stack.logs.slice(-30).join("\n")}`);
    const retried = stack.logs.filter((l) => l.includes('"retrying a call"') && l.includes('"Unavailable"'));
    assert.ok(retried.length > 2, "calls failed UNAVAILABLE while the services were down");
    assert.deepEqual(await results("restarts-faulty"), await results("restarts-clean"));
  });
});
