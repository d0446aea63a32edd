// Uses the types openapi-typescript generated from the committed document (src/generated/schema.ts) through
// openapi-fetch, as a TypeScript caller would, against a running service, with no type of its own for the API: an edit
// as multipart with three photos followed over Server-Sent Events, its image downloaded, an edit as JSON with data: URIs
// polled and found in the listing by its status, and problems read with their members.
//
//   node dist/check.js <service address> <folder with before.png, after.png and source.png>
//
// Prints "ok <check>: …" per check and exits 0, or prints "FAIL …" and exits 1.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import createClient from 'openapi-fetch';
import type { components, paths } from './generated/schema.js';
import { readEvents } from './events.js';

const [address, photos] = process.argv.slice(2);
if (!address || !photos) {
  console.error('usage: node dist/check.js <service address> <photo folder>');
  process.exit(2);
}
const client = createClient<paths>({ baseUrl: address.replace(/\/$/, '') });
const problemPrefix = 'urn:relation-adapter:problem:';
const seed = 424242;

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

async function photo(name: string): Promise<File> {
  return new File([new Uint8Array(await readFile(join(photos!, name)))], name, { type: 'image/png' });
}

async function dataUri(name: string): Promise<string> {
  return `data:image/png;base64,${(await readFile(join(photos!, name))).toString('base64')}`;
}

/** A form's fields as multipart parts: openapi-fetch's documented hook for a body that is not JSON. */
function multipart(form: object): FormData {
  const parts = new FormData();
  const fields: [string, unknown][] = Object.entries(form);
  for (const [name, value] of fields)
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item instanceof Blob) parts.append(name, item, item instanceof File ? item.name : name);
      else if (item !== undefined && item !== null) parts.append(name, String(item));
    }
  return parts;
}

function isPng(bytes: Uint8Array): boolean {
  return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((byte, i) => bytes[i] === byte);
}

type EditView = components['schemas']['EditView'];
const finished: ReadonlyArray<EditView['status']> = ['succeeded', 'failed', 'canceled'];

async function main(): Promise<void> {
  // Multipart: the form with File parts.
  const form: components['schemas']['EditForm'] = {
    prompt_image: await photo('before.png'),
    reference_image: await photo('after.png'),
    source_image: [await photo('source.png')],
    prompt: 'make it look like the example',
    steps: 2,
    seed,
    output_format: 'png',
  };
  const created = await client.POST('/v1/edits', { body: form, bodySerializer: multipart });
  check(created.response.status === 202 && created.data !== undefined, `multipart create answered ${created.response.status}`);
  const job = created.data;
  check(job.seed === seed, `the new job's seed is ${job.seed}`);
  console.log(`ok multipart: ${job.id} is ${job.status}`);

  // Server-Sent Events until the job is over: each event typed by the document's EditEvent.
  const stream = await client.GET('/v1/edits/{id}/events', { params: { path: { id: job.id } }, parseAs: 'stream' });
  check(stream.response.ok && stream.data !== undefined && stream.data !== null, `events answered ${stream.response.status}`);
  const names: string[] = [];
  let last: EditView | undefined;
  for await (const event of readEvents(stream.data)) {
    names.push(event.event);
    if (event.event === 'reconnect') throw new Error(`the stream asked to reconnect after ${event.data.retry_ms} ms`);
    last = event.data;
    if (finished.includes(event.data.status)) break;
  }
  check(names[0] === 'status', `the first event is ${names[0]}`);
  // A job that finished before the stream opened is told by the first event, "status", alone; otherwise its progress streams.
  check(last?.status === 'succeeded' && (names.at(-1) === 'succeeded' || names.length === 1), `the events ended with ${names.at(-1)}: ${last?.error?.detail}`);
  check(names.length === 1 || names.includes('progress'), `no progress event among ${names.join(', ')}`);
  console.log(`ok events: ${names.join(', ')}`);

  const result = await client.GET('/v1/edits/{id}/result', { params: { path: { id: job.id } }, parseAs: 'blob' });
  check(result.data instanceof Blob, `the result answered ${result.response.status}`);
  const bytes = new Uint8Array(await result.data.arrayBuffer());
  check(isPng(bytes), 'the result is not a PNG');
  check(result.response.headers.get('x-seed') === String(seed), `X-Seed is ${result.response.headers.get('x-seed')}`);
  console.log(`ok download: ${bytes.length} bytes of PNG`);

  // JSON: the same fields, the images as data: URIs (source_image one string).
  const json: components['schemas']['EditJson'] = {
    prompt_image: await dataUri('before.png'),
    reference_image: await dataUri('after.png'),
    source_image: await dataUri('source.png'),
    prompt: 'make it look like the example',
    steps: 2,
    seed,
  };
  const posted = await client.POST('/v1/edits', { body: json });
  check(posted.response.status === 202 && posted.data !== undefined, `JSON create answered ${posted.response.status}: ${JSON.stringify(posted.error)}`);
  let jsonJob: EditView = posted.data;
  const deadline = Date.now() + 60_000;
  while (!finished.includes(jsonJob.status)) {
    check(Date.now() < deadline, `${jsonJob.id} stayed ${jsonJob.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const polled = await client.GET('/v1/edits/{id}', { params: { path: { id: jsonJob.id } } });
    check(polled.data !== undefined, `polling answered ${polled.response.status}`);
    jsonJob = polled.data;
  }
  check(jsonJob.status === 'succeeded', `${jsonJob.id} ended ${jsonJob.status}`);
  check(jsonJob.width === last.width && jsonJob.height === last.height, 'the JSON edit and the multipart edit differ in size');
  const sameBytes = await client.GET('/v1/edits/{id}/results/{index}', { params: { path: { id: jsonJob.id, index: 0 } }, parseAs: 'blob' });
  check(sameBytes.data instanceof Blob, `the JSON edit's result answered ${sameBytes.response.status}`);
  const jsonBytes = new Uint8Array(await sameBytes.data.arrayBuffer());
  check(jsonBytes.length === bytes.length && jsonBytes.every((byte, i) => byte === bytes[i]), 'the same request as JSON made other bytes');
  console.log(`ok json: ${jsonJob.id} succeeded with the same image as the multipart edit`);

  const listed = await client.GET('/v1/edits', { params: { query: { status: 'succeeded', limit: 100 } } });
  check(listed.data !== undefined, `the listing answered ${listed.response.status}`);
  const ids = listed.data.items.map((item) => item.id);
  check(ids.includes(job.id) && ids.includes(jsonJob.id) && listed.data.items.every((item) => item.status === 'succeeded'),
    `the succeeded listing holds ${ids.join(', ')}`);
  console.log(`ok listing: ${ids.length} succeeded`);

  // Problems: their members are typed, with no dictionary of extras.
  const rejected = await client.POST('/v1/edits', { body: { source_image: [await photo('source.png')], prompt: 'edit', relation_id: 'rel_unused', steps: 0 }, bodySerializer: multipart });
  check(rejected.response.status === 400 && rejected.error !== undefined, `a bad form answered ${rejected.response.status}`);
  check(rejected.error.type === problemPrefix + 'validation', `the problem's type is ${rejected.error.type}`);
  const steps = rejected.error.errors?.['steps']?.[0];
  check(steps !== undefined, `errors should name steps: ${JSON.stringify(rejected.error.errors)}`);
  console.log(`ok validation: steps ${steps}`);

  const missing = await client.GET('/v1/edits/{id}', { params: { path: { id: 'ed_missing' } } });
  check(missing.response.status === 404 && missing.error?.type === problemPrefix + 'edit-not-found', `an unknown edit answered ${missing.response.status}`);
  check(typeof missing.error.trace_id === 'string' && missing.error.trace_id.length > 0, 'the problem has no trace_id');
  console.log(`ok not-found: trace ${missing.error.trace_id}`);

  // A long edit canceled at once: its result is a 409 that says the job's state.
  const long = await client.POST('/v1/edits', { body: { ...form, steps: 50 }, bodySerializer: multipart });
  check(long.data !== undefined, `the long edit answered ${long.response.status}`);
  const canceled = await client.DELETE('/v1/edits/{id}', { params: { path: { id: long.data.id } } });
  check(canceled.response.status === 202, `canceling answered ${canceled.response.status}`);
  const none = await client.GET('/v1/edits/{id}/result', { params: { path: { id: long.data.id } }, parseAs: 'blob' });
  check(none.response.status === 409 && none.error?.type === problemPrefix + 'result-not-available', `a canceled edit's result answered ${none.response.status}`);
  const state: EditView['status'] | undefined = none.error.job_status;
  check(state === 'canceled' || state === 'running', `job_status is ${state}`);
  console.log(`ok conflict: ${none.error.type} with job_status ${state}`);
}

main().then(
  () => console.log('all checks passed'),
  (error: unknown) => {
    console.log(`FAIL ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
