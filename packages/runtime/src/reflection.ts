/**
 * gRPC server reflection (v1, and v1alpha for older clients such as grpcio-reflection): lets grpcurl and
 * other-language tools discover the services and their descriptors from the running server.
 */
import type { DescEnum, DescFile, DescMessage, DescService } from "@bufbuild/protobuf";
import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import type { ServerReflection, ServerReflectionRequest } from "@ragtune/contracts/grpc-reflection";

interface DescriptorIndex {
  byFilename: Map<string, DescFile>;
  bySymbol: Map<string, DescFile>;
}

function indexFiles(services: readonly DescService[]): DescriptorIndex {
  const index: DescriptorIndex = { byFilename: new Map(), bySymbol: new Map() };
  const addEnum = (file: DescFile, desc: DescEnum) => index.bySymbol.set(desc.typeName, file);
  const addMessage = (file: DescFile, desc: DescMessage) => {
    index.bySymbol.set(desc.typeName, file);
    for (const m of desc.nestedMessages) addMessage(file, m);
    for (const e of desc.nestedEnums) addEnum(file, e);
  };
  const addFile = (file: DescFile) => {
    if (index.byFilename.has(file.proto.name)) return;
    index.byFilename.set(file.proto.name, file);
    for (const m of file.messages) addMessage(file, m);
    for (const e of file.enums) addEnum(file, e);
    for (const service of file.services) {
      index.bySymbol.set(service.typeName, file);
      for (const method of service.methods) index.bySymbol.set(`${service.typeName}.${method.name}`, file);
    }
    file.dependencies.forEach(addFile);
  };
  for (const service of services) addFile(service.file);
  return index;
}

/** The file and everything it imports, dependencies first, each once. */
function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    f.dependencies.forEach(visit);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
  };
  visit(file);
  // The requested file first, as grpc-go does; clients resolve the rest from the same response.
  return [out[out.length - 1], ...out.slice(0, -1)];
}

export function createReflectionService(services: readonly DescService[]): ServiceImpl<typeof ServerReflection> {
  const index = indexFiles(services);
  const serviceNames = services.map((s) => s.typeName);
  const answer = (req: ServerReflectionRequest) => {
    const base = { validHost: req.host, originalRequest: req };
    const notFound = (what: string) => ({
      ...base,
      messageResponse: {
        case: "errorResponse" as const,
        value: { errorCode: Code.NotFound, errorMessage: `${what} not found` },
      },
    });
    const files = (file: DescFile | undefined, what: string) =>
      file
        ? {
            ...base,
            messageResponse: {
              case: "fileDescriptorResponse" as const,
              value: { fileDescriptorProto: withDependencies(file) },
            },
          }
        : notFound(what);
    const request = req.messageRequest;
    switch (request.case) {
      case "listServices":
        return {
          ...base,
          messageResponse: {
            case: "listServicesResponse" as const,
            value: { service: serviceNames.map((name) => ({ name })) },
          },
        };
      case "fileByFilename":
        return files(index.byFilename.get(request.value), `file ${request.value}`);
      case "fileContainingSymbol":
        return files(index.bySymbol.get(request.value.replace(/^\./, "")), `symbol ${request.value}`);
      case "allExtensionNumbersOfType":
        return index.bySymbol.has(request.value)
          ? {
              ...base,
              messageResponse: {
                case: "allExtensionNumbersResponse" as const,
                value: { baseTypeName: request.value, extensionNumber: [] },
              },
            }
          : notFound(`type ${request.value}`);
      case "fileContainingExtension":
        return notFound(`extension ${request.value.extensionNumber} of ${request.value.containingType}`);
      default:
        return {
          ...base,
          messageResponse: {
            case: "errorResponse" as const,
            value: { errorCode: Code.InvalidArgument, errorMessage: "message_request: not set" },
          },
        };
    }
  };
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield answer(req);
    },
  };
}
