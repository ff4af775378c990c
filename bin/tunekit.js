#!/usr/bin/env node
// The published entry point: runs the compiled CLI (built by `npm ci` through the prepare script).
import { exitQuietlyOnClosedPipe, main, removeTempFilesOnInterrupt } from "../dist/cli/main.js";

exitQuietlyOnClosedPipe();
removeTempFilesOnInterrupt();
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
