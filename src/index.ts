/**
 * tunekit's library API. Everything the CLI does is available from here with types; the CLI is a thin
 * layer over these functions.
 */
export { TunekitError, EXIT, isTunekitError } from "./util/errors.js";
export { writeFileAtomic, withAtomicWriter, AtomicWriter } from "./util/fs.js";
export { VERSION } from "./version.js";
