import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { JobSchema, JobState } from "@ragtune/contracts/trainer";
import { createLogger } from "@ragtune/runtime";
import { createRecordingPublisher, createTrainerEvents, TRAINER_SUBJECTS } from "./trainer-events.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

function eventIds(publish: ReturnType<typeof createRecordingPublisher>) {
  return publish.events.map((e) => (e.message as { meta: { eventId: string } }).meta.eventId);
}

describe("trainer events", () => {
  it("gives a transition the same event id when it is published again, and another attempt another id", async () => {
    const publish = createRecordingPublisher();
    const events = createTrainerEvents({ publish, source: "trainer@test", now: () => T0 });
    const job = create(JobSchema, { jobId: "j", attempt: 1, state: JobState.RUNNING, nodeId: "n" });
    await events.jobStarted(job);
    await events.jobStarted(job);
    await events.jobStarted({ ...job, attempt: 2 });
    await events.jobPlaced(job);
    await events.jobPlaced({ ...job, nodeId: "m" });
    const [first, again, secondAttempt, placed, placedElsewhere] = eventIds(publish);
    assert.equal(first, again);
    assert.notEqual(first, secondAttempt);
    assert.notEqual(placed, placedElsewhere);
    assert.deepEqual(
      publish.events.map((e) => e.subject),
      [
        TRAINER_SUBJECTS.jobStarted,
        TRAINER_SUBJECTS.jobStarted,
        TRAINER_SUBJECTS.jobStarted,
        TRAINER_SUBJECTS.jobPlaced,
        TRAINER_SUBJECTS.jobPlaced,
      ],
    );
    const meta = (publish.events[0].message as { meta: { source: string; time: { seconds: bigint } } }).meta;
    assert.equal(meta.source, "trainer@test");
    assert.equal(meta.time.seconds, BigInt(T0 / 1000));
  });

  it("every subject is ragtune.trainer.<entity>.<event>", () => {
    for (const subject of Object.values(TRAINER_SUBJECTS)) assert.match(subject, /^ragtune\.trainer\.[a-z]+\.[a-z]+$/);
  });

  it("logs an event NATS refused instead of failing the transition it reports", async () => {
    const lines: string[] = [];
    const events = createTrainerEvents({
      publish: async () => {
        throw new Error("nats down");
      },
      source: "trainer@test",
      logger: createLogger("trainer", { write: (line) => lines.push(line) }),
    });
    await events.jobCancelled(create(JobSchema, { jobId: "j" }));
    const warning = JSON.parse(lines[0]) as { msg: string; subject: string };
    assert.equal(warning.msg, "event not published");
    assert.equal(warning.subject, TRAINER_SUBJECTS.jobCancelled);
  });
});
