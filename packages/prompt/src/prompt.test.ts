import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chatMessagesForModel, renderRagPrompt, renderRagTrainingExample } from "./render.js";
import { createTemplateRegistry, RAG_COMPACT_TEMPLATE, RAG_DEFAULT_TEMPLATE, templateHash } from "./templates.js";

const contexts = [
  { text: "The Nile is about 6,650 km long. ", sourceId: "doc-1#0" },
  { text: "The Amazon carries the most water.", sourceId: "doc-2#3" },
];

describe("RAG prompt templates", () => {
  it("renders role, numbered chunks with sources and the question", () => {
    const rendered = renderRagPrompt({ question: " How long is the Nile? ", contexts });
    assert.equal(rendered.templateId, "rag-default@1");
    assert.match(rendered.system, /only the numbered context/);
    assert.ok(
      rendered.user.includes("[1] (source: doc-1#0)\nThe Nile is about 6,650 km long.\n\n[2] (source: doc-2#3)"),
    );
    assert.ok(rendered.user.includes("Question: How long is the Nile?\n"));
    assert.deepEqual(
      rendered.messages.map((m) => m.role),
      ["system", "user"],
    );
    assert.equal(rendered.completionPrompt, `${rendered.system}\n\n${rendered.user}`);
  });

  it("hashes the wording: stable, 64 hex chars, different per template", () => {
    const hash = templateHash(RAG_DEFAULT_TEMPLATE);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(hash, templateHash({ ...RAG_DEFAULT_TEMPLATE, description: "changed description" }));
    assert.notEqual(hash, templateHash({ ...RAG_DEFAULT_TEMPLATE, user: `${RAG_DEFAULT_TEMPLATE.user} ` }));
    assert.notEqual(hash, templateHash(RAG_COMPACT_TEMPLATE));
  });

  it("keeps a template's hash, and recomputes it when the same object's wording changed", () => {
    const template = { ...RAG_DEFAULT_TEMPLATE };
    const before = templateHash(template);
    assert.equal(templateHash(template), before);
    template.user = `${template.user} Be brief.`;
    const after = templateHash(template);
    assert.notEqual(after, before);
    assert.equal(after, templateHash({ ...template }), "the same hash as a fresh object with that wording");
    template.description = "not part of the hash";
    assert.equal(templateHash(template), after);
  });

  it("leaves placeholder-like text inside contexts alone", () => {
    const rendered = renderRagPrompt({ question: "q?", contexts: [{ text: "literal {{question}} here" }] });
    assert.ok(rendered.user.includes("literal {{question}} here"));
    assert.ok(rendered.user.includes("(source: unknown)"));
  });

  it("formats a training example as the generator prompts", () => {
    const example = renderRagTrainingExample({
      question: "How long is the Nile?",
      contexts,
      answer: "About 6,650 km.",
    });
    const rendered = renderRagPrompt({ question: "How long is the Nile?", contexts });
    assert.equal(example.prompt, rendered.completionPrompt);
    assert.equal(example.completion, " About 6,650 km.");
    assert.deepEqual(example.messages.at(-1), { role: "assistant", content: "About 6,650 km." });
    assert.equal(example.templateHash, rendered.templateHash);
  });

  it("folds the system text into the user turn for families without a system role", () => {
    const rendered = renderRagPrompt({ question: "q?", contexts });
    assert.equal(chatMessagesForModel("mistralai/Mistral-7B-Instruct-v0.2", rendered).length, 1);
    assert.equal(chatMessagesForModel("meta-llama/Meta-Llama-3-8B-Instruct", rendered).length, 2);
  });

  it("registry resolves the default, rejects malformed and duplicate templates", () => {
    const registry = createTemplateRegistry();
    assert.equal(registry.get("")?.id, "rag-default@1");
    assert.equal(registry.get("rag-compact@1")?.id, "rag-compact@1");
    assert.equal(registry.get("nope@1"), undefined);
    assert.throws(() => createTemplateRegistry([{ ...RAG_DEFAULT_TEMPLATE }]), /defined twice/);
    assert.throws(() => createTemplateRegistry([{ ...RAG_DEFAULT_TEMPLATE, id: "bad id" }]), /name@version/);
    assert.throws(
      () => createTemplateRegistry([{ ...RAG_DEFAULT_TEMPLATE, id: "x@1", user: "Context: {{contexts}}" }]),
      /lacks \{\{question\}\}/,
    );
  });
});
