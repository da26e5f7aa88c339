/** A dataset file that does not have the expected shape. Names the file, the record and the field. */
export class DatasetFormatError extends Error {
  constructor(
    readonly file: string,
    /** e.g. "line 12", "questions[3]", "paper 1909.00694 qas[2]". */
    readonly record: string,
    /** Field path within the record, e.g. "snippets[0].text". */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}: ${record}: ${field}: ${reason}`);
    this.name = "DatasetFormatError";
  }
}

/**
 * Why a download failed: the host could not be reached (offline, DNS, refused), it answered an HTTP error, the
 * transfer broke off (the .part file is kept for the next run), the bytes did not match their pin, or the dataset
 * cannot be fetched at all (BioASQ: registration).
 */
export type DownloadFailure = "unreachable" | "http" | "interrupted" | "checksum" | "manual" | "local";

/** A dataset could not be fetched or did not verify. */
export class DatasetDownloadError extends Error {
  readonly reason: DownloadFailure;
  constructor(message: string, options?: { cause?: unknown; reason?: DownloadFailure }) {
    super(message, options);
    this.name = "DatasetDownloadError";
    this.reason = options?.reason ?? "local";
  }
}
