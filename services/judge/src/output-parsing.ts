/**
 * Strict parsing of judge output. A score is read only from a last line "Score: N" with N an integer; anything
 * else (no such line, a fraction, a value outside the scale, text after the score) is a parse error, which the
 * caller retries and, past its bound, records as a failed repeat. No score is ever guessed from loose text.
 */
import { SCALE_MAX, SCALE_MIN } from "./criteria.js";

export class JudgeOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JudgeOutputError";
  }
}

export interface ParsedForm {
  score: number;
  rationale: string;
}

const SCORE_LINE = /^\**\s*score\s*\**\s*:\s*\**\s*(-?\d+(?:\.\d+)?)\s*\**\s*$/i;

export function parseFormOutput(raw: string): ParsedForm {
  const lines = raw
    .trim()
    .split(/\r?\n/)
    .map((line) => line.trim());
  const last = lines.at(-1) ?? "";
  const match = SCORE_LINE.exec(last);
  if (!match) throw new JudgeOutputError('last line is not "Score: N"');
  const value = Number(match[1]);
  if (!Number.isInteger(value)) throw new JudgeOutputError(`score ${match[1]} is not an integer`);
  if (value < SCALE_MIN || value > SCALE_MAX) {
    throw new JudgeOutputError(`score ${value} is outside the scale ${SCALE_MIN}..${SCALE_MAX}`);
  }
  const rationale = lines
    .slice(0, -1)
    .join("\n")
    .replace(/^rationale\s*:\s*/i, "")
    .trim();
  return { score: value, rationale };
}

/** Numbered steps "1. ..." (or "1) ..."), at least 2 and at most 12, text without the numbers. */
export function parseEvaluationSteps(raw: string): string[] {
  const steps: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    const match = /^\s*(?:step\s*)?(\d{1,2})\s*[.):-]\s*(.+?)\s*$/i.exec(line);
    if (match) steps.push(match[2]);
  }
  if (steps.length < 2) throw new JudgeOutputError(`expected numbered evaluation steps, found ${steps.length}`);
  if (steps.length > 12) throw new JudgeOutputError(`expected at most 12 evaluation steps, found ${steps.length}`);
  return steps;
}
