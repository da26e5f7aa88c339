import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, type ConnectError } from "@ragtune/runtime";
import { RAG_COMPACT_TEMPLATE, type RenderedRagPrompt } from "@ragtune/prompt";
import { fitPromptToWindow } from "./truncation.js";

/** One token per whitespace-separated word: easy to reason about. */
const countWords = async (prompt: RenderedRagPrompt) => prompt.completionPrompt.split(/\s+/).filter(Boolean).length;
const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(" ");
const base = {
  question: "What is it?",
  template: RAG_COMPACT_TEMPLATE,
  maxTokens: 10,
  countTokens: countWords,
  allowTruncation: true,
};

describe("truncation policy", () => {
  it("leaves a prompt that fits alone, and never truncates without a window", async () => {
    const contexts = [{ text: words(20, "a") }];
    const fits = await fitPromptToWindow({ ...base, contexts, window: 100 });
    assert.deepEqual([fits.truncated, fits.note, fits.contexts.length], [false, "", 1]);
    const unlimited = await fitPromptToWindow({ ...base, contexts: [{ text: words(5000, "a") }], window: undefined });
    assert.equal(unlimited.truncated, false);
  });

  it("drops the lowest-ranked contexts first, then shortens the last kept one at a word boundary", async () => {
    const contexts = [{ text: words(30, "a") }, { text: words(30, "b") }, { text: words(30, "c") }];
    const dropped = await fitPromptToWindow({ ...base, contexts, window: 90 });
    assert.deepEqual([dropped.truncated, dropped.contexts.length, dropped.note], [true, 2, "dropped context 3 of 3"]);
    assert.deepEqual(dropped.contexts, contexts.slice(0, 2));

    const shortened = await fitPromptToWindow({ ...base, contexts, window: 30 });
    assert.equal(shortened.contexts.length, 1);
    assert.ok(contexts[0].text.startsWith(shortened.contexts[0].text));
    assert.match(shortened.contexts[0].text, /a\d+$/, "cut at a word boundary");
    assert.match(shortened.note, /^dropped contexts 2-3 of 3; shortened context 1 to \d+ of \d+ characters$/);
    const used = await countWords(shortened.prompt);
    assert.ok(used <= 30 - 10 && used >= 30 - 10 - 1, `used ${used}: the budget is filled, not left empty`);
    assert.ok(!shortened.prompt.completionPrompt.includes("b0"));
  });

  it("INVALID_ARGUMENT on contexts when truncation is disabled, on question when nothing can fit", async () => {
    const contexts = [{ text: words(100, "a") }];
    await assert.rejects(
      fitPromptToWindow({ ...base, contexts, window: 60, allowTruncation: false }),
      (e: ConnectError) => e.code === Code.InvalidArgument && e.rawMessage.startsWith("contexts: "),
    );
    await assert.rejects(
      fitPromptToWindow({ ...base, question: words(80, "q"), contexts, window: 60 }),
      (e: ConnectError) => e.code === Code.InvalidArgument && e.rawMessage.startsWith("question: "),
    );
  });
});
