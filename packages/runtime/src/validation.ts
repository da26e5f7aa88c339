/**
 * Small declarative checks that throw INVALID_ARGUMENT naming the field; each service keeps its rules in one
 * module built from these.
 */
import type { DescEnum } from "@bufbuild/protobuf";
import { invalidArgument } from "./errors.js";

export function requireNonEmpty(field: string, value: string): void {
  if (value.trim() === "") throw invalidArgument(field, "must not be empty");
}

export function requireRange(field: string, value: number, min: number, max: number): void {
  if (!(value >= min && value <= max)) throw invalidArgument(field, `must be in ${min}..${max}, got ${value}`);
}

export function requirePattern(field: string, value: string, pattern: RegExp, description: string): void {
  if (!pattern.test(value)) throw invalidArgument(field, `must be ${description}`);
}

/** proto3 enums are open: a client may send any number, so every enum field is checked against its values. */
export function requireKnownEnum(
  field: string,
  value: number,
  desc: DescEnum,
  options: { allowUnspecified?: boolean } = {},
) {
  const known = desc.values.some((v) => v.number === value);
  if (!known) throw invalidArgument(field, `unknown ${desc.name} value ${value}`);
  if (value === 0 && !options.allowUnspecified) throw invalidArgument(field, `must be set`);
}

export function requirePresent<T>(field: string, value: T | undefined | null): T {
  if (value === undefined || value === null) throw invalidArgument(field, "is required");
  return value;
}
