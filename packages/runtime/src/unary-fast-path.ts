/**
 * Unary gRPC calls (binary protobuf, POST) served without connect's generic handler pipeline: the one request
 * message is decoded, the implementation runs through connect's own invokeUnaryImplementation (so interceptors,
 * auth and tracing run as connect runs them) with a handler context like connect's (call-context.ts), and the one
 * response message is encoded, with no async-iterable transform per step. connect's gRPC handler spent about 1.1 ms
 * of CPU per generator call here (services/generator/README.md, Saturation); its async generators and their
 * promises were most of it.
 *
 * Same wire behaviour as connect's gRPC handler (@connectrpc/connect 2.x protocol-grpc/handler-factory): the same
 * response headers and trailers, status codes, error messages and details, deadline and compression negotiation.
 * Whatever this path does not take on (gRPC-Web, Connect, JSON, a bad grpc-timeout or grpc-encoding, streaming
 * methods) stays with connect, and h2-handler.ts hands connect a request body whose single-message framing it could
 * not confirm (compressed, oversized, several or incomplete messages), so those answers are connect's own.
 */
import { Code, ConnectError, createServiceImplSpec, type Interceptor, type MethodImplSpec } from "@connectrpc/connect";
import {
  compressionNegotiate,
  createMethodSerializationLookup,
  encodeEnvelope,
  envelopeCompress,
  invokeUnaryImplementation,
  type UniversalHandlerOptions,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import {
  contentTypeProto,
  grpcStatusOk,
  headerAcceptEncoding,
  headerContentType,
  headerEncoding,
  headerGrpcStatus,
  headerTimeout,
  parseContentType,
  parseTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import type { DescService } from "@bufbuild/protobuf";
import { type CallContext, createCallContext, createLiveCalls } from "./call-context.js";

/** What a unary call answered: the response headers, the one encoded message (none on error), the trailers. */
export interface UnaryCallResult {
  header: Headers;
  /** The enveloped response message; undefined when the call failed (the status is in the trailer). */
  body: Uint8Array | undefined;
  trailer: Headers;
  /** Ends the call's signal once the response went out, as connect does when its response stream ends. */
  end(): void;
}

/** One accepted call, waiting for its request message. */
export interface UnaryCall {
  /** Runs the call on the request message (the envelope's payload, uncompressed). */
  run(message: Uint8Array, requestSignal: AbortSignal, url: string): Promise<UnaryCallResult>;
}

export interface UnaryFastPath {
  /** Largest request message accepted; a larger one goes to connect, which refuses it (RESOURCE_EXHAUSTED). */
  readonly readMaxBytes: number;
  /** Calls whose context has not ended yet (each ends with its response, deadline, client or the server). */
  readonly callsInFlight: number;
  /** The call, when this path serves a request with this path, HTTP method and headers; else undefined. */
  accept(path: string, httpMethod: string, header: Headers): UnaryCall | undefined;
}

export interface UnaryImplementation {
  service: DescService;
  impl: object;
}

/** Builds the fast path for the unary methods of these services, with the router's options. */
export function createUnaryFastPath(
  implementations: readonly UnaryImplementation[],
  routerOptions: Partial<UniversalHandlerOptions>,
): UnaryFastPath {
  const opt = validateUniversalHandlerOptions(routerOptions);
  const live = createLiveCalls(opt.shutdownSignal);
  const methods = new Map<string, UnaryMethod>();
  for (const { service, impl } of implementations) {
    const spec = createServiceImplSpec(service, impl as never);
    for (const method of Object.values(spec.methods)) {
      if (method.kind !== "unary") continue;
      const serialization = createMethodSerializationLookup(method.method, opt.binaryOptions, opt.jsonOptions, opt);
      methods.set(`/${service.typeName}/${method.method.name}`, {
        spec: method as MethodImplSpec & { kind: "unary" },
        parse: serialization.getI(true).parse,
        serialize: serialization.getO(true).serialize,
      });
    }
  }

  return {
    readMaxBytes: opt.readMaxBytes,
    get callsInFlight() {
      return live.size;
    },
    accept(path, httpMethod, header) {
      const method = methods.get(path);
      if (method === undefined || httpMethod !== "POST") return undefined;
      if (parseContentType(header.get(headerContentType))?.binary !== true) return undefined;
      const timeout = parseTimeout(header.get(headerTimeout), opt.maxTimeoutMs);
      const compression = compressionNegotiate(
        opt.acceptCompression,
        header.get(headerEncoding),
        header.get(headerAcceptEncoding),
        headerAcceptEncoding,
      );
      // connect reports these in the trailers of its own answer.
      if (timeout.error !== undefined || compression.error !== undefined) return undefined;
      const arrived = Date.now();
      return {
        run: (message, requestSignal, url) => {
          // The deadline counts from the call's arrival, as connect's (its context is made before the body is read).
          const timeoutMs = timeout.timeoutMs === undefined ? undefined : timeout.timeoutMs - (Date.now() - arrived);
          const responseHeader = new Headers();
          responseHeader.set(headerContentType, contentTypeProto);
          if (compression.response) responseHeader.set(headerEncoding, compression.response.name);
          const responseTrailer = new Headers();
          responseTrailer.set(headerGrpcStatus, grpcStatusOk);
          const context = createCallContext(
            {
              spec: method.spec,
              service: method.spec.method.parent,
              method: method.spec.method,
              requestMethod: httpMethod,
              protocolName: "grpc",
              timeoutMs,
              requestSignal,
              requestHeader: header,
              url,
              responseHeader,
              responseTrailer,
            },
            live,
          );
          return invoke(method, context, message, compression.response, opt.compressMinBytes, opt.interceptors);
        },
      };
    },
  };
}

interface UnaryMethod {
  spec: MethodImplSpec & { kind: "unary" };
  parse: (data: Uint8Array) => unknown;
  serialize: (message: never) => Uint8Array;
}

type Compression = NonNullable<ReturnType<typeof compressionNegotiate>["response"]>;

async function invoke(
  method: UnaryMethod,
  context: CallContext,
  message: Uint8Array,
  compression: Compression | null,
  compressMinBytes: number,
  interceptors: Interceptor[],
): Promise<UnaryCallResult> {
  const header = context.responseHeader;
  const trailer = context.responseTrailer;
  let body: Uint8Array;
  try {
    const input = method.parse(message);
    const output = await invokeUnaryImplementation(method.spec, context, input as never, interceptors);
    const envelope = await envelopeCompress(
      { flags: 0, data: method.serialize(output as never) },
      compression,
      compressMinBytes,
    );
    body = encodeEnvelope(envelope.flags, envelope.data);
  } catch (error) {
    // As connect's transformCatchFinally: the call's signal ends with the error, which becomes the trailer status.
    context.abort(error);
    if (error instanceof ConnectError) setTrailerStatus(trailer, error);
    else if (error !== undefined) {
      setTrailerStatus(trailer, new ConnectError("internal error", Code.Internal, undefined, undefined, error));
    }
    return { header, body: undefined, trailer, end: () => {} };
  }
  return { header, body, trailer, end: () => context.abort() };
}
