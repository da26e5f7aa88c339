import { createHash } from "node:crypto";

/**
 * A versioned RAG prompt template. Placeholders: `{{contexts}}` and `{{question}}` in `system`/`user`;
 * `{{index}}` (1-based), `{{source}}` and `{{text}}` in `context`. A template never changes once
 * published: a new wording is a new version, so an answer's recorded hash always names its wording.
 */
export interface RagPromptTemplate {
  /** "<name>@<version>", e.g. "rag-default@1". */
  id: string;
  /** What the template is for. Not part of the hash. */
  description: string;
  /** System message; empty when the template has none. */
  system: string;
  /** User message. */
  user: string;
  /** How one context chunk is written. */
  context: string;
  /** Between two context chunks. */
  contextSeparator: string;
}

export const RAG_DEFAULT_TEMPLATE: RagPromptTemplate = {
  id: "rag-default@1",
  description:
    "Role, numbered context chunks with their sources, the question; asks for an answer grounded in the context.",
  system:
    "You are a careful question-answering assistant. Answer the user's question using only the numbered context " +
    "passages you are given. If the passages do not contain the answer, say that the context does not answer it. " +
    "Answer concisely and do not invent facts.",
  user: "Context:\n{{contexts}}\n\nQuestion: {{question}}\n\nAnswer the question using only the context above.\nAnswer:",
  context: "[{{index}}] (source: {{source}})\n{{text}}",
  contextSeparator: "\n\n",
};

/** For small context windows and plain completion APIs (tiny GGUF models): no system text, short framing. */
export const RAG_COMPACT_TEMPLATE: RagPromptTemplate = {
  id: "rag-compact@1",
  description: "Numbered context chunks and the question with minimal framing, for small context windows.",
  system: "",
  user: "Context:\n{{contexts}}\nQuestion: {{question}}\nAnswer:",
  context: "[{{index}}] {{text}}",
  contextSeparator: "\n",
};

const BUILT_IN: readonly RagPromptTemplate[] = [RAG_DEFAULT_TEMPLATE, RAG_COMPACT_TEMPLATE];

export const DEFAULT_TEMPLATE_ID = RAG_DEFAULT_TEMPLATE.id;

/** A template's hash and the field values it was computed from. */
interface HashedTemplate {
  fields: readonly string[];
  hash: string;
}

const hashes = new WeakMap<RagPromptTemplate, HashedTemplate>();

/** The fields that shape the prompt text, in the hash's fixed order. */
function hashedFields(template: RagPromptTemplate): string[] {
  return [template.id, template.system, template.user, template.context, template.contextSeparator];
}

/**
 * SHA-256 (hex) over the fields that shape the prompt text, in a fixed order. Every rendered prompt records it, so
 * it is kept per template object (the generator rendered it on every request: about 0.03 ms each, with the
 * JSON and hash buffers for the collector) and recomputed when any of those fields has changed since.
 */
export function templateHash(template: RagPromptTemplate): string {
  const fields = hashedFields(template);
  const known = hashes.get(template);
  if (known?.fields.every((value, i) => value === fields[i])) return known.hash;
  const hash = createHash("sha256").update(JSON.stringify(fields)).digest("hex");
  hashes.set(template, { fields, hash });
  return hash;
}

export interface TemplateRegistry {
  /** The template with this id; the default for an empty id; undefined when unknown. */
  get(id: string): RagPromptTemplate | undefined;
  list(): RagPromptTemplate[];
}

/** Built-in templates plus any given (a team's own wording), validated once. */
export function createTemplateRegistry(extra: readonly RagPromptTemplate[] = []): TemplateRegistry {
  const byId = new Map<string, RagPromptTemplate>();
  for (const template of [...BUILT_IN, ...extra]) {
    validateTemplate(template);
    if (byId.has(template.id)) throw new Error(`template ${template.id} is defined twice`);
    byId.set(template.id, template);
  }
  return {
    get: (id) => byId.get(id === "" ? DEFAULT_TEMPLATE_ID : id),
    list: () => [...byId.values()],
  };
}

function validateTemplate(template: RagPromptTemplate) {
  if (!/^[a-z0-9][a-z0-9._-]*@\d+$/.test(template.id))
    throw new Error(`template id ${template.id} must look like name@version`);
  const body = template.system + template.user;
  for (const placeholder of ["{{contexts}}", "{{question}}"]) {
    if (!body.includes(placeholder)) throw new Error(`template ${template.id} lacks ${placeholder}`);
  }
  if (!template.context.includes("{{text}}")) throw new Error(`template ${template.id}: context lacks {{text}}`);
}
