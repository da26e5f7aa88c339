#!/usr/bin/env node
// Fails when one deployable process imports another's code: a file under services/<a>/ or gateway/ that imports
// @ragtune/<b> (b a service or the gateway) or reaches by relative path into services/<b>/ or gateway/. Services
// share code through packages/ and the generated contracts only; that is what lets a team swap one service.
//
//   node scripts/check-service-imports.mjs [root]      (root: the repository, by default this script's parent)
//
// Prints one line per import, `path:line: ...`, and exits 1 when it finds any.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const PROCESSES = ["retriever", "trainer", "generator", "judge", "gateway"];
const SOURCE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;
const SKIPPED_DIRS = new Set(["node_modules", "gen", ".turbo", ".ragtune", "dist"]);

// Module specifiers in static imports and re-exports (`from "x"`), side-effect imports (`import "x"`),
// dynamic imports and require calls. Comments are not stripped: a commented-out import is reported too.
const SPECIFIER =
  /\bfrom\s*["']([^"']+)["']|\bimport\s*["']([^"']+)["']|\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g;

/** The folders that each hold one process: services/<name>/ and gateway/, as paths relative to root. */
function processRoots(root) {
  const roots = [];
  const services = join(root, "services");
  if (existsSync(services)) {
    for (const name of readdirSync(services)) {
      if (statSync(join(services, name)).isDirectory()) roots.push(join("services", name));
    }
  }
  if (existsSync(join(root, "gateway"))) roots.push("gateway");
  return roots;
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) yield* sourceFiles(join(dir, entry.name));
    } else if (SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts")) {
      yield join(dir, entry.name);
    }
  }
}

const isInside = (path, folder) => path === folder || path.startsWith(folder + sep);

/** Why `specifier`, imported by a file of the process at `own`, reaches into another process; undefined if not. */
function crossing(root, own, file, specifier) {
  const named = /^@ragtune\/([^/]+)/.exec(specifier);
  if (named) {
    const target = named[1];
    const ownName = own === "gateway" ? "gateway" : own.split(sep).pop();
    if (PROCESSES.includes(target) && target !== ownName) return `imports ${specifier} (the ${target} service)`;
    return undefined;
  }
  if (!specifier.startsWith(".")) return undefined;
  const target = resolve(dirname(file), specifier);
  if (isInside(target, join(root, own))) return undefined;
  const intoService = isInside(target, join(root, "services"));
  const intoGateway = isInside(target, join(root, "gateway"));
  if (!intoService && !intoGateway) return undefined;
  return `imports ${specifier}, which leaves ${own.split(sep).join("/")}/ for ${relative(root, target).split(sep).join("/")}`;
}

/** Every cross-process import under root, as `path:line: message` lines (paths relative to root, in order). */
export function findServiceImports(root) {
  const problems = [];
  for (const own of processRoots(root)) {
    for (const file of sourceFiles(join(root, own))) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(SPECIFIER)) {
        const specifier = match[1] ?? match[2] ?? match[3];
        const why = crossing(root, own, file, specifier);
        if (!why) continue;
        const line = text.slice(0, match.index).split("\n").length;
        problems.push(`${relative(root, file).split(sep).join("/")}:${line}: ${why}`);
      }
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
  const problems = findServiceImports(root);
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    console.error(
      `\n${problems.length} import(s) from one service into another: share the code through a package in packages/.`,
    );
    process.exit(1);
  }
  console.log("service imports: no service imports another");
}
