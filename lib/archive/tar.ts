/**
 * Tar archives: the streaming reader (`tar_reader.ts`: POSIX ustar, GNU and
 * pax archives, {@link readTar}) and the writer (`tar_writer.ts`,
 * {@link writeTar}), in one place.
 *
 * @module
 */

export {
  MAX_META_BYTES,
  readTar,
  type ReadTarOptions,
  type TarEntry,
  type TarEntryType,
  type TarHeader,
} from "./tar_reader.ts";
export {
  type TarWriteEntry,
  tarWriteEntryFromPath,
  tarWriteEntryFromPathSync,
  type TarWriteOptions,
  writeTar,
} from "./tar_writer.ts";
