/**
 * A small OpenAPI 3.0 checker for the subset of JSON Schema Qdrant's description uses ($ref, type, nullable,
 * anyOf/oneOf/allOf, enum, properties, required, additionalProperties, items, minimum/maximum). Strict on
 * purpose: a property the schema does not declare is an error, so a misspelt field cannot pass unnoticed.
 */

type Schema = Record<string, any>;

export interface OpenApiDocument {
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, Schema> };
}

export interface MatchedOperation {
  template: string;
  method: string;
  operation: Record<string, any>;
  pathParams: Record<string, string>;
}

const ANNOTATIONS = new Set([
  "description",
  "default",
  "example",
  "deprecated",
  "title",
  "format",
  "readOnly",
  "writeOnly",
]);

export function createOpenApiValidator(doc: OpenApiDocument) {
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "([^/]+)")}$`),
    names: [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
  }));

  function resolve(schema: Schema): Schema {
    let current = schema;
    while (current?.$ref) {
      const name = String(current.$ref).replace("#/components/schemas/", "");
      current = doc.components.schemas[name];
      if (!current) throw new Error(`unresolvable $ref ${schema.$ref}`);
    }
    return current;
  }

  /** A schema that says nothing but "nullable": it admits null only. */
  function isNullOnly(schema: Schema): boolean {
    return schema.nullable === true && Object.keys(schema).every((k) => k === "nullable" || ANNOTATIONS.has(k));
  }

  function check(input: Schema, value: unknown, at: string, errors: string[]): void {
    const schema = resolve(input);
    if (value === null) {
      if (schema.nullable || isNullOnly(schema)) return;
      if (schema.anyOf || schema.oneOf) {
        const branches = (schema.anyOf ?? schema.oneOf) as Schema[];
        if (branches.some((b) => resolve(b).nullable)) return;
      }
      errors.push(`${at}: must not be null`);
      return;
    }
    if (isNullOnly(schema)) {
      errors.push(`${at}: must be null`);
      return;
    }
    if (schema.allOf) for (const part of schema.allOf) check(part, value, at, errors);
    for (const key of ["anyOf", "oneOf"] as const) {
      if (!schema[key]) continue;
      const attempts = (schema[key] as Schema[]).map((branch) => {
        const branchErrors: string[] = [];
        check(branch, value, at, branchErrors);
        return branchErrors;
      });
      if (!attempts.some((a) => a.length === 0)) {
        const closest = attempts.reduce((best, a) => (a.length < best.length ? a : best));
        errors.push(`${at}: matches no ${key} branch (closest: ${closest.slice(0, 3).join("; ")})`);
      }
    }
    if (schema.enum && !schema.enum.includes(value))
      errors.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
    switch (schema.type) {
      case "object": {
        if (typeof value !== "object" || Array.isArray(value)) {
          errors.push(`${at}: must be an object`);
          return;
        }
        const record = value as Record<string, unknown>;
        for (const name of schema.required ?? []) if (!(name in record)) errors.push(`${at}.${name}: is required`);
        for (const [name, item] of Object.entries(record)) {
          if (item === undefined) continue;
          const property = schema.properties?.[name];
          if (property) check(property, item, `${at}.${name}`, errors);
          else if (typeof schema.additionalProperties === "object")
            check(schema.additionalProperties, item, `${at}.${name}`, errors);
          else if (schema.additionalProperties !== true)
            errors.push(`${at}.${name}: is not a property the schema declares`);
        }
        break;
      }
      case "array":
        if (!Array.isArray(value)) errors.push(`${at}: must be an array`);
        else if (schema.items) value.forEach((item, i) => check(schema.items, item, `${at}[${i}]`, errors));
        break;
      case "string":
        if (typeof value !== "string") errors.push(`${at}: must be a string`);
        break;
      case "integer":
      case "number":
        if (typeof value !== "number" || !Number.isFinite(value)) errors.push(`${at}: must be a number`);
        else {
          if (schema.type === "integer" && !Number.isInteger(value)) errors.push(`${at}: must be an integer`);
          if (schema.minimum !== undefined && value < schema.minimum)
            errors.push(`${at}: must be >= ${schema.minimum}`);
          if (schema.maximum !== undefined && value > schema.maximum)
            errors.push(`${at}: must be <= ${schema.maximum}`);
          if (String(schema.format ?? "").startsWith("uint") && value < 0) errors.push(`${at}: must be unsigned`);
        }
        break;
      case "boolean":
        if (typeof value !== "boolean") errors.push(`${at}: must be a boolean`);
        break;
    }
  }

  function parseQueryValue(schema: Schema, raw: string): unknown {
    const type = resolve(schema).type;
    if (type === "boolean") return raw === "true" ? true : raw === "false" ? false : raw;
    if (type === "integer" || type === "number") return raw.trim() === "" ? raw : Number(raw);
    return raw;
  }

  return {
    validateValue(schema: Schema, value: unknown, at = "$"): string[] {
      const errors: string[] = [];
      check(schema, value, at, errors);
      return errors;
    },

    match(method: string, pathname: string): MatchedOperation | undefined {
      for (const { template, pattern, names } of templates) {
        const found = pattern.exec(pathname);
        const operation = doc.paths[template][method.toLowerCase()];
        if (found && operation) {
          const pathParams = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(found[i + 1])]));
          return { template, method: method.toLowerCase(), operation, pathParams };
        }
      }
      return undefined;
    },

    /** Problems with a request: unknown path or method, query parameters, body. */
    validateRequest(method: string, url: URL, body: unknown): { matched?: MatchedOperation; errors: string[] } {
      const matched = this.match(method, url.pathname);
      if (!matched) return { errors: [`${method} ${url.pathname}: no such operation in the OpenAPI description`] };
      const errors: string[] = [];
      const parameters = (matched.operation.parameters ?? []) as Schema[];
      const query = parameters.filter((p) => p.in === "query");
      for (const [name, raw] of url.searchParams) {
        const parameter = query.find((p) => p.name === name);
        if (!parameter) errors.push(`query.${name}: not a parameter of ${matched.template}`);
        else check(parameter.schema, parseQueryValue(parameter.schema, raw), `query.${name}`, errors);
      }
      for (const parameter of query) {
        if (parameter.required && !url.searchParams.has(parameter.name))
          errors.push(`query.${parameter.name}: is required`);
      }
      const bodySchema = matched.operation.requestBody?.content?.["application/json"]?.schema;
      if (bodySchema && body !== undefined) check(bodySchema, body, "body", errors);
      else if (bodySchema && matched.operation.requestBody?.required) errors.push("body: is required");
      else if (!bodySchema && body !== undefined) errors.push("body: this operation takes none");
      return { matched, errors };
    },

    /** Problems with a response the fake is about to send: its shape must be documented for that status. */
    validateResponse(matched: MatchedOperation, status: number, body: unknown): string[] {
      const responses = matched.operation.responses as Record<string, any>;
      const entry = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
      if (!entry) return [`response ${status}: not documented for ${matched.template}`];
      const schema = entry.content?.["application/json"]?.schema;
      return schema ? this.validateValue(schema, body, `response(${status})`) : [];
    },
  };
}

export type OpenApiValidator = ReturnType<typeof createOpenApiValidator>;
