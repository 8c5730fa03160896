/**
 * The `seek-bzip` bzip2 decoder, pinned; see `lib/deps/yaml.ts` for the convention.
 *
 * @module
 */
// @ts-types="../archive/seek_bzip.d.ts"
import Bunzip from "npm:seek-bzip@2.0.0";
export default Bunzip;
