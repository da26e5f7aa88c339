/**
 * Issue 13 item 12: malformed and hostile requests to every RPC of retriever, trainer, generator, judge and
 * gateway, each a process on a loopback socket. Every row must get its exact code (and, for INVALID_ARGUMENT,
 * name its field first); afterwards every process is alive and SERVING and the planted state is unchanged.
 * Rows that wait on another item's fix are todo, with the item named.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deadOrUnhealthy, type HostileStack, SEED, snapshotState, startHostileStack } from "./hostile-stack.js";
import { allHostileCases, caseContext, caseName, checkCase } from "./run-cases.js";

const cases = allHostileCases();

// Rows run 8 at a time (each is an independent request); the two checks after them wait for all.
describe(`hostile input: ${cases.length} malformed and hostile requests over gRPC sockets`, () => {
  let hostile: HostileStack;
  let before_: Awaited<ReturnType<typeof snapshotState>>;

  before(async () => {
    hostile = await startHostileStack();
    before_ = await snapshotState(hostile.clients);
    assert.ok(before_.search.length > 0, `the planted collection ${SEED.collection} answers its query`);
  });
  after(async () => {
    await hostile?.stop();
  });

  describe("each row gets its exact answer", { concurrency: 8 }, () => {
    for (const c of cases) {
      it(caseName(c), { todo: c.todo, timeout: 30_000 }, async () => {
        const problem = await checkCase(c, caseContext(hostile));
        assert.equal(problem, undefined, problem);
      });
    }
  });

  it(`after all ${cases.length} rows: every process alive and SERVING`, async () => {
    assert.deepEqual(await deadOrUnhealthy(hostile.services), [], hostile.services.logs.slice(-20).join("\n"));
  });

  it("after all rows: the planted collection, experiment, jobs and nodes are unchanged", async () => {
    assert.deepEqual(await snapshotState(hostile.clients), before_);
  });
});
