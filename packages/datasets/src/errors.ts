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

/** A dataset could not be fetched or did not verify. */
export class DatasetDownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatasetDownloadError";
  }
}
