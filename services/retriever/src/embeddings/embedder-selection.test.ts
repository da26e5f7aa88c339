import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { commonSettings, ConfigError, loadConfig } from "@ragtune/runtime";
import { unreachableUrl } from "../../test/support/unreachable-url.js";
import { retrieverSettings } from "../config.js";
import { createEmbedderFromConfig } from "../server.js";
import { GLOVE_MODEL } from "./glove-embedder.js";

const configOf = (env: Record<string, string>) =>
  loadConfig({ ...commonSettings("retriever"), ...retrieverSettings }, env, []);

describe("RETRIEVER_EMBEDDER picks the embedder at start-up", () => {
  it("defaults to the endpoint when RETRIEVER_EMBEDDINGS_URL is set, else to none", () => {
    assert.equal(createEmbedderFromConfig(configOf({})), undefined);
    const url = "http://127.0.0.1:9/v1";
    assert.equal(
      createEmbedderFromConfig(configOf({ RETRIEVER_EMBEDDINGS_URL: url }))?.model,
      "text-embedding-3-small",
    );
    assert.equal(
      createEmbedderFromConfig(configOf({ RETRIEVER_EMBEDDINGS_URL: url, RETRIEVER_EMBEDDER: "none" })),
      undefined,
    );
  });

  it("fails fast, naming the setting, on an unknown choice or openai without its URL", () => {
    assert.throws(
      () => configOf({ RETRIEVER_EMBEDDER: "word2vec" }),
      /RETRIEVER_EMBEDDER: must be one of none, glove, openai/,
    );
    assert.throws(
      () => createEmbedderFromConfig(configOf({ RETRIEVER_EMBEDDER: "openai" })),
      (error: Error) =>
        error instanceof ConfigError && /RETRIEVER_EMBEDDER.*needs RETRIEVER_EMBEDDINGS_URL/.test(error.message),
    );
  });

  it("builds the GloVe embedder on its cache directory and URL", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "ragtune-embedder-choice-"));
    try {
      const url = await unreachableUrl("/wink.tgz");
      const embedder = createEmbedderFromConfig(
        configOf({ RETRIEVER_EMBEDDER: "glove", RETRIEVER_GLOVE_CACHE_DIR: cacheDir, RETRIEVER_GLOVE_URL: url }),
      );
      assert.equal(embedder?.model, GLOVE_MODEL);
      await assert.rejects(embedder!.dimensions(), new RegExp(`cannot download ${url}.*${cacheDir}`));
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
