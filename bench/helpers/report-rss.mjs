// Loaded with --import into a benchmarked CLI process: prints its peak RSS to stderr at exit.
process.on("exit", () => {
  process.stderr.write(`\nTUNEKIT_MAX_RSS_KB=${process.resourceUsage().maxRSS}\n`);
});
