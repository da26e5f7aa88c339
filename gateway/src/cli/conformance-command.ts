/**
 * `ragtune conformance <service> --url URL [--nats URL] [--only TEXT]`: runs a contract's behavioural checks
 * against any implementation at an address and prints one PASS/FAIL/SKIP line per check with its reason.
 * Exit 0 when nothing failed, 1 when a check failed, 2 for bad usage, an address where nothing answers, or a
 * server of another contract.
 */
import { parseArgs } from "node:util";

const usage = `usage: ragtune conformance <judge|retriever|generator|trainer|node-agent> --url URL [--nats NATS_URL] [--only TEXT]

  node-agent checks a trainer's side of the agent protocol; it registers test nodes, so point it at a test trainer

  --url   the implementation's gRPC address, e.g. http://127.0.0.1:50054
  --nats  the NATS server it publishes events to; without it the event checks are skipped
  --only  run only the checks whose name contains TEXT
RAGTUNE_AUTH_TOKEN, when set, is sent as a bearer token.
`;

export async function conformanceCommand(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    process.stderr.write(`ragtune conformance: ${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const { CONTRACTS, formatResult, runConformance } = await import("@ragtune/conformance");
  const [service] = parsed.positionals;
  const contract = service ? CONTRACTS[service] : undefined;
  if (!contract || !parsed.values.url) {
    const why = !service
      ? "name a contract"
      : !contract
        ? `unknown contract "${service}" (known: ${Object.keys(CONTRACTS).join(", ")})`
        : "--url is required";
    process.stderr.write(`ragtune conformance: ${why}\n${usage}`);
    return 2;
  }
  const token = process.env.RAGTUNE_AUTH_TOKEN;
  const report = await runConformance(contract, parsed.values.url, {
    natsUrl: parsed.values.nats,
    only: parsed.values.only,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    onResult: (result) => console.log(formatResult(result)),
  });
  if (report.status !== "checked") {
    console.error(`ragtune conformance ${contract.name}: ${report.reason}`);
    return 2;
  }
  const count = (outcome: string) => report.results.filter((r) => r.outcome === outcome).length;
  const failed = count("fail");
  console.log(
    `${contract.service.typeName} at ${parsed.values.url}: ${count("pass")} passed, ${failed} failed, ` +
      `${count("skip")} skipped`,
  );
  return failed ? 1 : 0;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      nats: { type: "string" },
      only: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}
