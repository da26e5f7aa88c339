/**
 * Exact token counts from the model's own tokenizer and chat template, which live in Python: the PEFT runner's
 * --count-tokens mode answers one JSON line per request. The agent fits fine-tuning prompts with them, so the
 * shared truncation rule cuts a prompt where the model's tokens, not an estimate, run out.
 */
import type { ChatMessage } from "@ragtune/prompt";
import { FailureClass } from "@ragtune/contracts/trainer";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { ExecutorFailure, userError } from "./executor.js";

export interface TokenCounter {
  /** Tokens of the chat template applied to the messages with the generation prompt (what serving feeds the model). */
  countMessages(messages: readonly ChatMessage[]): Promise<number>;
  /** Tokens of plain text, no special tokens (an answer). */
  countText(text: string): Promise<number>;
  close(): Promise<void>;
}

const FAILURE_CLASSES: Record<string, FailureClass> = {
  out_of_memory: FailureClass.OUT_OF_MEMORY,
  user_error: FailureClass.USER_ERROR,
  transient: FailureClass.TRANSIENT,
};

/** The class of the runner's {"event": "error", "class"} line; an unknown one counts as transient. */
export const runnerFailureClass = (name: string): FailureClass => FAILURE_CLASSES[name] ?? FailureClass.TRANSIENT;

/** Starts `command args…` speaking the count protocol; requests are answered in order, one at a time. */
export function startTokenCounter(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): TokenCounter {
  const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
  const waiting: { resolve: (n: number) => void; reject: (e: Error) => void }[] = [];
  let stderr = "";
  let failure: ExecutorFailure | undefined;
  const fail = (error: ExecutorFailure) => {
    failure ??= error;
    for (const request of waiting.splice(0)) request.reject(failure);
  };
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  child.stdin.on("error", () => {}); // a dead counter is reported by its exit, below
  child.once("error", (error) =>
    fail(new ExecutorFailure(FailureClass.TRANSIENT, `cannot start ${command}: ${error.message}`)),
  );
  child.once("close", (code) =>
    fail(
      new ExecutorFailure(
        FailureClass.TRANSIENT,
        `the token counter exited with ${code}: ${stderr.trim() || "no output"}`,
      ),
    ),
  );
  createInterface({ input: child.stdout }).on("line", (line) => {
    let answer: { tokens?: number; error?: string; event?: string; class?: string; message?: string };
    try {
      answer = JSON.parse(line);
    } catch {
      return; // library chatter on stdout
    }
    if (answer.event === "error") {
      // The runner could not start counting (no tokenizer, no chat template, no transformers): the job's fault.
      fail(new ExecutorFailure(runnerFailureClass(String(answer.class)), String(answer.message)));
      return;
    }
    const request = waiting.shift();
    if (!request) return;
    if (typeof answer.tokens === "number") request.resolve(answer.tokens);
    else request.reject(userError(`the tokenizer rejected a training prompt: ${answer.error ?? line}`));
  });

  function ask(body: object): Promise<number> {
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      child.stdin.write(`${JSON.stringify(body)}\n`);
    });
  }

  return {
    countMessages: (messages) => ask({ messages }),
    countText: (text) => ask({ text }),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const closed = new Promise((resolve) => child.once("close", resolve));
      child.stdin.end();
      await closed;
    },
  };
}
