/** The rows every contract shares: grpc.health.v1 and server reflection, as the design asks of every server. */
import type { DescService } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus as Status, Health } from "@ragtune/contracts/grpc-health";
import { ServerReflection } from "@ragtune/contracts/grpc-reflection";
import type { Check, CheckContext } from "./check.js";
import { ensure, expectCode } from "./expect.js";

export async function listServices(ctx: CheckContext): Promise<string[]> {
  const reflection = ctx.client(ServerReflection);
  async function* request() {
    yield { host: "", messageRequest: { case: "listServices" as const, value: "" } };
  }
  for await (const res of reflection.serverReflectionInfo(request(), { timeoutMs: 5000 })) {
    if (res.messageResponse.case === "listServicesResponse") {
      return res.messageResponse.value.service.map((s) => s.name);
    }
    throw new Error(`reflection answered ${res.messageResponse.case} to list_services`);
  }
  throw new Error("reflection closed the stream without an answer");
}

async function fileContainingSymbol(ctx: CheckContext, symbol: string): Promise<number> {
  const reflection = ctx.client(ServerReflection);
  async function* request() {
    yield { host: "", messageRequest: { case: "fileContainingSymbol" as const, value: symbol } };
  }
  for await (const res of reflection.serverReflectionInfo(request(), { timeoutMs: 5000 })) {
    if (res.messageResponse.case === "fileDescriptorResponse") {
      return res.messageResponse.value.fileDescriptorProto.length;
    }
    const detail = res.messageResponse.case === "errorResponse" ? `: ${res.messageResponse.value.errorMessage}` : "";
    throw new Error(`reflection answered ${res.messageResponse.case}${detail} to file_containing_symbol`);
  }
  throw new Error("reflection closed the stream without an answer");
}

export function commonChecks(service: DescService): Check[] {
  return [
    {
      name: `health: Check("") and Check("${service.typeName}") answer SERVING`,
      async run(ctx) {
        const health = ctx.client(Health);
        for (const name of ["", service.typeName]) {
          const res = await health.check({ service: name }, { timeoutMs: 5000 });
          ensure(res.status === Status.SERVING, `Check("${name}") answered ${Status[res.status]}`);
        }
      },
    },
    {
      name: "health: Check of an unknown service answers NOT_FOUND",
      async run(ctx) {
        await expectCode(
          ctx.client(Health).check({ service: "no.such.v1.Service" }, { timeoutMs: 5000 }),
          Code.NotFound,
        );
      },
    },
    {
      name: "health: Watch starts with the current status",
      async run(ctx) {
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), 5000);
        try {
          for await (const res of ctx.client(Health).watch({ service: "" }, { signal: abort.signal })) {
            ensure(res.status === Status.SERVING, `first message says ${Status[res.status]}, Check says SERVING`);
            return;
          }
          ensure(false, "the stream ended without a message");
        } finally {
          clearTimeout(timer);
          abort.abort();
        }
      },
    },
    {
      name: `reflection: lists ${service.typeName} and grpc.health.v1.Health`,
      async run(ctx) {
        const names = await listServices(ctx);
        for (const wanted of [service.typeName, "grpc.health.v1.Health"]) {
          ensure(names.includes(wanted), `${wanted} missing from [${names.join(", ")}]`);
        }
      },
    },
    {
      name: `reflection: gives the descriptor of ${service.typeName}`,
      async run(ctx) {
        const files = await fileContainingSymbol(ctx, service.typeName);
        ensure(files > 0, "no file descriptor returned");
      },
    },
  ];
}
