// Uses the generated client (src/generated, from the committed OpenAPI document) as a TypeScript caller would,
// against a running service, with no type of its own: submit an edit with three photos (as JSON, the body hey-api
// chooses when an operation takes JSON besides multipart: the photos as data: URIs), poll it, download the image, read a
// validation problem, and check the seed comes back exactly.
//
//   node dist/check.js <service address> <folder with before.png, after.png and source.png>
//
// Prints "ok <check>: …" per check and exits 0, or prints "FAIL …" and exits 1.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { client } from './generated/client.gen.js';
import { createEdit, getEdit, getEditResult } from './generated/sdk.gen.js';
import type { CreateEditErrors, EditView, GetEditErrors } from './generated/types.gen.js';

const [address, photos] = process.argv.slice(2);
if (!address || !photos) {
  console.error('usage: node dist/check.js <service address> <photo folder>');
  process.exit(2);
}
client.setConfig({ baseUrl: address.replace(/\/$/, '') });

// The largest seed the service takes: 2^53 - 1, which a JavaScript number holds exactly.
const seed = Number.MAX_SAFE_INTEGER;
const problemPrefix = 'urn:relation-adapter:problem:';

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

async function photo(name: string): Promise<string> {
  return `data:image/png;base64,${(await readFile(join(photos!, name))).toString('base64')}`;
}

async function main(): Promise<void> {
  const created = await createEdit({
    body: {
      prompt_image: await photo('before.png'),
      reference_image: await photo('after.png'),
      source_image: [await photo('source.png')],
      prompt: 'make it look like the example',
      steps: 2,
      seed,
    },
    throwOnError: true,
  });
  check(created.response.status === 202, `create answered ${created.response.status}`);
  let job: EditView = created.data;
  check(job.status === 'queued' || job.status === 'running', `a new job is ${job.status}`);
  check(job.seed === seed, `the new job's seed is ${job.seed}, not ${seed}`);
  console.log(`ok create: ${job.id} is ${job.status} (JSON with three photos as data: URIs)`);

  const deadline = Date.now() + 60_000;
  while (job.status === 'queued' || job.status === 'running') {
    check(Date.now() < deadline, `${job.id} stayed ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    job = (await getEdit({ path: { id: job.id }, throwOnError: true })).data;
  }
  check(job.status === 'succeeded', `${job.id} ended ${job.status}: ${job.error?.detail}`);
  check(job.progress.step === job.progress.total, `progress ${job.progress.step}/${job.progress.total}`);
  console.log(`ok poll: ${job.id} succeeded after ${job.progress.total} steps`);

  const result = await getEditResult({ path: { id: job.id }, throwOnError: true });
  const bytes = new Uint8Array(await result.data.arrayBuffer());
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  check(png.every((byte, i) => bytes[i] === byte), 'the result is not a PNG');
  const header = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [width, height] = [header.getUint32(16), header.getUint32(20)]; // IHDR, right after the signature
  check(width === job.width && height === job.height, `the image is ${width}x${height}, the job says ${job.width}x${job.height}`);
  console.log(`ok download: ${bytes.length} bytes of ${result.response.headers.get('content-type')}, ${width}x${height}`);

  check(job.seed === seed, `the finished job's seed is ${job.seed}, not ${seed}`);
  check(result.response.headers.get('x-seed') === String(seed), `X-Seed is ${result.response.headers.get('x-seed')}`);
  console.log(`ok seed: ${seed} came back exactly`);

  const rejected = await createEdit({
    body: { source_image: [await photo('source.png')], prompt: 'edit', relation_id: 'rel_unused', steps: 0, seed: -1 },
  });
  check(rejected.response?.status === 400 && rejected.error !== undefined, `a bad form answered ${rejected.response?.status}`);
  const problem = rejected.error as CreateEditErrors[400];
  check(problem.type === problemPrefix + 'validation', `the problem's type is ${problem.type}`);
  check(problem.status === 400, `the problem's status is ${problem.status}`);
  const steps = problem.errors?.['steps']?.[0];
  const seedError = problem.errors?.['seed']?.[0];
  check(steps === 'must be between 1 and 50.' && seedError !== undefined, `errors should name steps and seed: ${JSON.stringify(problem.errors)}`);
  console.log(`ok validation: ${problem.title} steps ${steps}; seed ${seedError}`);

  const missing = await getEdit({ path: { id: 'ed_missing' } });
  const notFound = missing.error as GetEditErrors[404] | undefined;
  check(missing.response?.status === 404 && notFound?.type === problemPrefix + 'edit-not-found', `an unknown edit answered ${missing.response?.status}`);
  console.log(`ok not-found: ${notFound.detail}`);
}

main().then(
  () => console.log('all checks passed'),
  (error: unknown) => {
    console.log(`FAIL ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
