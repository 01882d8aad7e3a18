// Where the tests find the repository's files, from the compiled dist/test/ directory.
import * as path from 'node:path';

/** infra/cdk */
export const CDK_DIR = path.resolve(__dirname, '..', '..');
export const REPO_DIR = path.resolve(CDK_DIR, '..', '..');
export const SAM_TEMPLATE = path.join(REPO_DIR, 'infra', 'template.yaml');
export const SAM_TRANSFORM_SCRIPT = path.join(CDK_DIR, 'test', 'sam-transform.py');
