// Loaded with --import: makes `node-llama-cpp` unresolvable, as on a machine where it is not installed.
import { register } from "node:module";

register("data:text/javascript," + encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === "node-llama-cpp" || specifier.startsWith("node-llama-cpp/")) {
    const e = new Error("Cannot find package 'node-llama-cpp' imported from " + context.parentURL);
    e.code = "ERR_MODULE_NOT_FOUND";
    throw e;
  }
  return next(specifier, context);
}
`));
