#!/usr/bin/env node
// Validates docs/openapi.yaml (or the files given) against the OpenAPI 3.1 schema with
// @seriousme/openapi-schema-validator. Exit 0 when valid, 1 with the errors on stderr otherwise.
import { readFile } from 'node:fs/promises';
import { fileURLToPath, URL } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';

const files = process.argv.slice(2);
if (files.length === 0) files.push(fileURLToPath(new URL('../docs/openapi.yaml', import.meta.url)));

let failed = false;
for (const file of files) {
  const validator = new Validator();
  const result = await validator.validate(await readFile(file, 'utf8'));
  if (result.valid && validator.version === '3.1') {
    console.log(`${file}: valid OpenAPI ${validator.version}`);
  } else {
    failed = true;
    const why = result.valid ? [`expected OpenAPI 3.1, got ${validator.version}`] : result.errors;
    console.error(`${file}: invalid\n${JSON.stringify(why, null, 2)}`);
  }
}
process.exitCode = failed ? 1 : 0;
