/**
 * @ragtune/adapter-archive: the one format adapters travel in between the trainer's node agents and the
 * generator, a POSIX ustar archive of the adapter's folder. Writer and reader live together so they cannot drift.
 */
export { archiveDirectory, directorySize } from "./archive-writer.js";
export {
  AdapterArchiveError,
  isRegularFile,
  readArchive,
  readUstarEntry,
  type UstarEntry,
  ustarEntries,
} from "./archive-reader.js";
export {
  ADAPTER_ID,
  type AdapterArchiveSource,
  createDirectoryArchiveSource,
  createObjectStoreArchiveSource,
  readIfExists,
} from "./archive-sources.js";
export {
  type AdapterStorage,
  createDirectoryAdapterStorage,
  createObjectStoreAdapterStorage,
  DEFAULT_ADAPTER_BUCKET,
  type StoredAdapter,
} from "./archive-storage.js";
