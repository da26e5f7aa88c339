/**
 * Adapter archives checked against the trainer's adapter record. The archive's own object metadata says nothing
 * about who wrote it: whoever can replace the object can replace its metadata too. The sha256 the trainer recorded
 * when the training agent reported the upload (TrainerService.GetAdapter) is what an archive must match; one that
 * does not, or that has no record, is refused (AdapterArchiveError: FAILED_PRECONDITION to the caller), never served.
 */
import { createHash } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { AdapterArchiveError, type AdapterArchiveSource } from "@ragtune/adapter-archive";
import type { TrainerService } from "@ragtune/contracts/trainer";

/** The sha256 the trainer recorded for an adapter's archive; undefined: the trainer has no such adapter. */
export type AdapterRecordLookup = (adapterId: string) => Promise<string | undefined>;

/** Looks records up with TrainerService.GetAdapter; errors other than NOT_FOUND propagate (UNAVAILABLE upstream). */
export function createTrainerRecordLookup(trainer: Client<typeof TrainerService>): AdapterRecordLookup {
  return async (adapterId) => {
    try {
      const { adapter } = await trainer.getAdapter({ adapterId });
      return adapter?.sha256 || undefined;
    } catch (error) {
      if (ConnectError.from(error).code === Code.NotFound) return undefined;
      throw error;
    }
  };
}

/** `archives`, with every archive it hands out matched against the trainer's record of it. */
export function createRecordVerifiedArchiveSource(
  archives: AdapterArchiveSource,
  recordedSha256: AdapterRecordLookup,
): AdapterArchiveSource {
  return {
    location: archives.location,
    list: () => archives.list(),
    async fetch(adapterId) {
      const archive = await archives.fetch(adapterId);
      if (!archive) return undefined;
      const expected = await recordedSha256(adapterId);
      if (!expected) {
        throw new AdapterArchiveError(
          `archive ${adapterId}.tar in ${archives.location} has no adapter record at the trainer; it is not served`,
        );
      }
      const actual = createHash("sha256").update(archive).digest("hex");
      if (actual !== expected.toLowerCase()) {
        throw new AdapterArchiveError(
          `archive ${adapterId}.tar in ${archives.location} has sha256 ${actual}, but the trainer's adapter record ` +
            `says ${expected}: the stored archive is not the one the trainer recorded; it is not served`,
        );
      }
      return archive;
    },
  };
}
