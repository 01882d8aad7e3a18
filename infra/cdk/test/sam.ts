// infra/template.yaml after the SAM transform, as it is on disk now (test/sam-transform.py).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from './normalize';
import { REPO_DIR, SAM_TEMPLATE, SAM_TRANSFORM_SCRIPT } from './paths';

let transformed: Template | undefined;

/**
 * The Python with aws-sam-translator: $ECS_CAPACITY_PYTHON (the Makefile sets it to the venv's),
 * else the repository's .venv, which `make venv` creates.
 */
function python(): string {
  const given = process.env.ECS_CAPACITY_PYTHON;
  if (given) return given;
  const venv = path.join(REPO_DIR, '.venv', 'bin', 'python');
  if (!fs.existsSync(venv)) {
    throw new Error(`no Python with aws-sam-translator: run \`make venv\` in ${REPO_DIR}, or set ECS_CAPACITY_PYTHON`);
  }
  return venv;
}

export function samTemplate(): Template {
  if (!transformed) {
    // No AWS configuration may leak in: the transform must work without it.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' };
    const out = execFileSync(python(), [SAM_TRANSFORM_SCRIPT, SAM_TEMPLATE], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    transformed = JSON.parse(out) as Template;
  }
  return transformed;
}
