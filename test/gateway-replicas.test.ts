/**
 * Two gateway replicas on one NATS: each experiment run is leased, so only one replica runs it; a cancel through
 * the other replica stops it; and when the running replica is killed, the other adopts the run once the lease
 * lapses and finishes it without redoing finished cells.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Experiment, ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { createKvCellResultStore, stackServices } from "@ragtune/gateway";
import { type LocalStack, startLocalStack } from "@ragtune/gateway/local-stack";
import { connectNats, createServiceClient } from "@ragtune/runtime";
import { readerExperimentSpec } from "./support/reader-experiment.js";
import { startTestStack, type TestStack } from "./support/stack.js";
import { writeSyntheticBioAsq } from "./support/synthetic-bioasq.js";

const LEASE_TTL_MS = 2000;

describe("gateway replicas", () => {
  let stack: TestStack;
  let second: LocalStack;
  const secondLogs: string[] = [];
  let dataDir: string;

  before(async () => {
    stack = await startTestStack({ GATEWAY_LEASE_TTL_MS: String(LEASE_TTL_MS) });
    const urlOf = (name: string) => stack.processes.find((p) => p.service.name === name)!.url;
    second = await startLocalStack({
      env: {
        ...process.env,
        NATS_URL: stack.natsUrl,
        RETRIEVER_URL: urlOf("retriever"),
        TRAINER_URL: urlOf("trainer"),
        GENERATOR_URL: urlOf("generator"),
        JUDGE_URL: urlOf("judge"),
        GATEWAY_DATA_DIR: join(stack.dataDir, "gateway-b"),
        GATEWAY_DATA_ROOTS: stack.dataDir,
        GATEWAY_LEASE_TTL_MS: String(LEASE_TTL_MS),
      },
      anyPort: true,
      services: stackServices.filter((s) => s.name === "gateway"),
      onLog: (_service, line) => secondLogs.push(line),
    });
    dataDir = join(stack.dataDir, "bioasq");
    mkdirSync(dataDir, { recursive: true });
    writeSyntheticBioAsq(dataDir, 90);
  });
  after(async () => {
    await second?.stop();
    await stack?.stop();
  });

  const gatewayA = () => stack.processes.find((p) => p.service.name === "gateway")!;
  const clientA = () => createServiceClient(ExperimentService, gatewayA().url);
  const clientB = () => createServiceClient(ExperimentService, second.processes[0].url);
  const spec = (sizes: number[]) => readerExperimentSpec({ name: "replicas", dataDir, sizes, seed: 5n });
  const cellsDoneIn = (logs: string[], experimentId: string) =>
    logs.filter((line) => line.includes('"cell done"') && line.includes(`"${experimentId}"`)).length;

  it("stops a run on one replica when it is cancelled through the other", async () => {
    await clientA().createExperiment({ experimentId: "rep-cancel", spec: spec([0, 30, 60]) });
    await clientA().startExperiment({ experimentId: "rep-cancel" });
    // Starting it on B as well must not run it twice: A holds the lease.
    await clientB().startExperiment({ experimentId: "rep-cancel" });
    await clientB().cancelExperiment({ experimentId: "rep-cancel" });
    // A notices at its next lease renewal (a third of the time to live); wait well past it.
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS * 2));
    const { experiment } = await clientA().getExperiment({ experimentId: "rep-cancel" });
    assert.equal(experiment!.state, ExperimentState.CANCELLED, "a finishing run must not overwrite the cancel");
    assert.ok(
      stack.logs.some((line) => line.includes("experiment run stopped") && line.includes("CANCELLED")),
      "replica A stopped its run",
    );
    assert.equal(cellsDoneIn(secondLogs, "rep-cancel"), 0, "replica B never ran it");
  });

  it("adopts the run of a replica that died, without redoing its finished cells", async () => {
    await clientA().createExperiment({ experimentId: "rep-adopt", spec: spec([0, 30, 60]) });
    await clientA().startExperiment({ experimentId: "rep-adopt" });
    for await (const { experiment } of clientB().watchExperiment({ experimentId: "rep-adopt" })) {
      if (experiment!.cellsDone >= 1) break;
    }
    const { child } = gatewayA();
    const closed = once(child, "close"); // its stderr (and so its log lines) read to the end
    child.kill("SIGKILL"); // no release of the lease, no record of a stop: a crash
    await closed;
    // What A stored before it died, read from the cells bucket itself (A's log may trail its writes).
    const nats = await connectNats({ url: stack.natsUrl, name: "replicas-test" });
    const cells = await createKvCellResultStore(nats);
    const finishTimes = async () =>
      new Map((await cells.list("rep-adopt")).map((cell) => [cell.cellKey, cell.finishTime]));
    const finishedByA = await finishTimes();
    assert.ok(finishedByA.size >= 1);

    let final: Experiment | undefined;
    for await (const { experiment } of clientB().watchExperiment({ experimentId: "rep-adopt" })) final = experiment;
    assert.equal(final!.state, ExperimentState.SUCCEEDED, `${final!.error}\n${secondLogs.slice(-20).join("\n")}`);
    assert.equal(final!.cellsDone, 3);
    assert.ok(secondLogs.some((line) => line.includes("adopted experiment runs")));
    const finished = await finishTimes();
    await nats.close();
    assert.equal(finished.size, 3);
    for (const [cellKey, finishTime] of finishedByA) {
      assert.equal(finished.get(cellKey), finishTime, `${cellKey}: finished by A, kept as it was, not redone by B`);
    }
    const { rows } = await clientB().getResults({ experimentId: "rep-adopt" });
    assert.equal(rows.length, 6, "3 cells × 2 criteria");
  });
});
