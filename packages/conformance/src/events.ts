/** Waits for an event a call causes, on the NATS server the implementation publishes to (core subscription). */
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { connect } from "@nats-io/transport-node";
import { type CheckContext, NotApplicable } from "./check.js";
import { ensure } from "./expect.js";

/**
 * Subscribes to `subject`, runs `action`, and returns the first event (decoded as `schema`) that `matches`
 * within `timeoutMs` of the action's end.
 */
export async function expectEvent<D extends DescMessage>(
  ctx: CheckContext,
  subject: string,
  schema: D,
  action: () => Promise<unknown>,
  matches: (event: MessageShape<D>) => boolean,
  timeoutMs = 5000,
): Promise<MessageShape<D>> {
  if (!ctx.natsUrl) throw new NotApplicable("give --nats URL to check events");
  const nc = await connect({ servers: ctx.natsUrl, timeout: 3000 });
  try {
    const sub = nc.subscribe(subject);
    const seen: string[] = [];
    const found = (async () => {
      for await (const msg of sub) {
        let event: MessageShape<D>;
        try {
          event = fromBinary(schema, msg.data);
        } catch (error) {
          seen.push(`undecodable as ${schema.typeName}: ${(error as Error).message}`);
          continue;
        }
        if (matches(event)) return { event, traceparent: msg.headers?.get("traceparent") ?? "" };
        seen.push("an event for another call");
      }
      return undefined;
    })();
    await nc.flush();
    await action();
    const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
    const result = await found;
    clearTimeout(timer);
    ensure(result, `no ${subject} event within ${timeoutMs} ms${seen.length ? ` (saw ${seen.join("; ")})` : ""}`);
    return result.event;
  } finally {
    await nc.close();
  }
}
