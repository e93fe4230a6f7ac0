// Lints a Dockerfile with the VS Code Dockerfile language service; exits 1 on any error-level finding.
import { readFileSync } from 'node:fs';
import { validate } from 'dockerfile-utils';

const file = process.argv[2] ?? 'Dockerfile';
const problems = validate(readFileSync(file, 'utf8'));
for (const p of problems) console.log(`${file}:${p.range.start.line + 1}: ${p.severity === 1 ? 'error' : 'warning'}: ${p.message}`);
const errors = problems.filter((p) => p.severity === 1).length;
console.log(`dockerfile lint: ${errors} error(s), ${problems.length - errors} warning(s)`);
process.exit(errors ? 1 : 0);
