import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RenderedRagPrompt, renderRagPrompt } from "./render.js";
import { fitRagPrompt } from "./truncation.js";

/** One token per whitespace-separated word of the chat messages. */
const countWords = (prompt: RenderedRagPrompt) =>
  prompt.messages
    .map((m) => m.content)
    .join(" ")
    .split(/\s+/)
    .filter(Boolean).length;
const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(" ");
const contexts = [
  { text: words(40, "top"), sourceId: "d1" },
  { text: words(40, "mid"), sourceId: "d2" },
  { text: words(40, "low"), sourceId: "d3" },
];
const question = "Which one?";

describe("the shared truncation rule", () => {
  it("keeps the instructions and the question, drops the lowest-ranked chunk, then cuts the last kept one", async () => {
    const whole = renderRagPrompt({ question, contexts });
    const topTwo = countWords(renderRagPrompt({ question, contexts: contexts.slice(0, 2) }));
    const dropped = await fitRagPrompt({ question, contexts, budget: topTwo, countTokens: countWords });
    assert.ok(dropped.fits);
    assert.deepEqual([dropped.contexts, dropped.note], [contexts.slice(0, 2), "dropped context 3 of 3"]);
    assert.equal(dropped.prompt.system, whole.system);
    assert.ok(dropped.prompt.user.endsWith(whole.user.slice(-80)));

    const cut = await fitRagPrompt({ question, contexts, budget: topTwo - 60, countTokens: countWords });
    assert.ok(cut.fits);
    assert.equal(cut.contexts.length, 1);
    assert.ok(contexts[0].text.startsWith(cut.contexts[0].text) && cut.contexts[0].text.length > 0);
    assert.equal(cut.prompt.system, whole.system);
    assert.ok(countWords(cut.prompt) <= topTwo - 60);
  });

  it("reports rather than cuts when truncation is off, and names the question when nothing fits", async () => {
    const bare = countWords(renderRagPrompt({ question, contexts: [] }));
    const needed = countWords(renderRagPrompt({ question, contexts }));
    assert.deepEqual(
      await fitRagPrompt({ question, contexts, budget: bare + 5, countTokens: countWords, allowTruncation: false }),
      { fits: false, field: "contexts", needed },
    );
    assert.deepEqual(await fitRagPrompt({ question, contexts, budget: bare - 1, countTokens: countWords }), {
      fits: false,
      field: "question",
      needed,
    });
    const unlimited = await fitRagPrompt({ question, contexts, budget: undefined, countTokens: countWords });
    assert.ok(unlimited.fits && !unlimited.truncated);
  });
});
