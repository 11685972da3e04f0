// Drives openai-sandbox with the official `openai` Node SDK (OpenAI and AzureOpenAI clients), the
// way an application would: multipart file uploads, auto-pagination, the Uploads API, graders,
// typed errors. Run by ../run.sh node; SANDBOX_URL and SANDBOX_KEY name the sandbox.
import { readFileSync } from 'node:fs';
import OpenAI, { AzureOpenAI, toFile } from 'openai';

const SDK_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/openai/package.json', import.meta.url), 'utf8'),
).version;

const URL_ = process.env.SANDBOX_URL;
const KEY = process.env.SANDBOX_KEY;
let failed = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed++;
}
async function expectError(p, what, pred) {
  try {
    await p;
    check(false, `${what} (no error)`);
  } catch (e) {
    check(e instanceof OpenAI.APIError && pred(e), `${what} (${e.status} ${e.code ?? ''})`);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function chat(n, tag) {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += JSON.stringify({ messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: `${tag} question ${i}` },
      { role: 'assistant', content: `${tag} answer ${i}` },
    ] }) + '\n';
  }
  return Buffer.from(s);
}
async function waitStatus(client, id, want) {
  for (let i = 0; i < 200; i++) {
    const j = await client.fineTuning.jobs.retrieve(id);
    if (want.includes(j.status)) return j;
    await sleep(100);
  }
  throw new Error(`job ${id} never reached ${want}`);
}

async function openaiFlow() {
  const client = new OpenAI({ baseURL: `${URL_}/v1`, apiKey: KEY, maxRetries: 2 });
  const f = await client.files.create({ file: await toFile(chat(12, 'node'), 'train.jsonl'), purpose: 'fine-tune' });
  check(f.id.startsWith('file-') && f.bytes > 0 && f.status === 'processed', `file created ${f.status}`);
  check((await client.files.retrieve(f.id)).filename === 'train.jsonl', 'file retrieved');
  const small = await client.files.create({ file: await toFile(chat(5, 'small'), 'small.jsonl'), purpose: 'fine-tune' });
  const ids = [];
  for await (const x of client.files.list({ purpose: 'fine-tune', limit: 1 })) ids.push(x.id);
  check(ids.includes(f.id) && ids.includes(small.id), `files listed with pagination (${ids.length})`);
  await expectError(client.files.content(f.id), 'fine-tune file content not downloadable', (e) => e.status === 400);

  const job = await client.fineTuning.jobs.create({
    model: 'gpt-4o-mini-2024-07-18',
    training_file: f.id,
    suffix: 'node',
    seed: 7,
    metadata: { case: 'node' },
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2, batch_size: 1, learning_rate_multiplier: 0.5 } } },
  });
  check(['validating_files', 'queued', 'running'].includes(job.status), `job created ${job.status}`);
  const done = await waitStatus(client, job.id, ['succeeded', 'failed']);
  check(done.status === 'succeeded' && done.fine_tuned_model?.includes(':node:'), `job succeeded ${done.fine_tuned_model}`);
  const events = [];
  for await (const e of client.fineTuning.jobs.listEvents(job.id, { limit: 2 })) events.push(e);
  check(events.length > 3, `events paginated (${events.length})`);
  const cks = [];
  for await (const c of client.fineTuning.jobs.checkpoints.list(job.id)) cks.push(c);
  check(cks.length >= 1 && cks[0].fine_tuned_model_checkpoint, `checkpoints (${cks.length})`);
  const listed = [];
  for await (const j of client.fineTuning.jobs.list({ metadata: { case: 'node' } })) listed.push(j.id);
  check(listed.length === 1 && listed[0] === job.id, 'jobs filtered by metadata');
  const model = await client.models.retrieve(done.fine_tuned_model);
  check(model.id === done.fine_tuned_model, 'fine-tuned model retrieved');
  const result = await client.files.content(done.result_files[0]);
  check((await result.text()).startsWith('step,'), 'result file content');

  await expectError(client.fineTuning.jobs.create({ model: 'gpt-4o-mini', training_file: 'file-doesnotexist' }), 'unknown file', (e) => e.status === 400 || e.status === 404);
  await expectError(client.fineTuning.jobs.retrieve('ftjob-doesnotexist'), 'unknown job 404', (e) => e.status === 404);
  const c = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: f.id });
  const cancelled = await client.fineTuning.jobs.cancel(c.id);
  check(cancelled.status === 'cancelled', 'job cancelled');

  // Uploads API: parts, then complete.
  const up = await client.uploads.create({ bytes: 10, filename: 'u.jsonl', mime_type: 'text/jsonl', purpose: 'fine-tune' });
  const p1 = await client.uploads.parts.create(up.id, { data: await toFile(Buffer.from('12345'), 'p1') });
  const p2 = await client.uploads.parts.create(up.id, { data: await toFile(Buffer.from('67890'), 'p2') });
  await expectError(client.uploads.complete(up.id, { part_ids: [p1.id] }), 'upload complete with wrong size', (e) => e.status === 400);
  const good = await client.uploads.create({ bytes: chat(3, 'up').length, filename: 'u2.jsonl', mime_type: 'text/jsonl', purpose: 'fine-tune' });
  const gp = await client.uploads.parts.create(good.id, { data: await toFile(chat(3, 'up'), 'p') });
  const completed = await client.uploads.complete(good.id, { part_ids: [gp.id] });
  check(completed.status === 'completed' && completed.file?.id?.startsWith('file-'), `upload completed ${completed.status}`);
  const cancelledUp = await client.uploads.cancel(up.id);
  check(cancelledUp.status === 'cancelled', 'upload cancelled');
  check(p2.id !== p1.id, 'parts have distinct ids');

  // Graders.
  const grader = { type: 'string_check', name: 'label', input: '{{sample.output_text}}', reference: '{{item.label}}', operation: 'eq' };
  const v = await client.fineTuning.alpha.graders.validate({ grader });
  check(v.grader?.type === 'string_check', 'grader validated');
  const run = await client.fineTuning.alpha.graders.run({ grader, model_sample: 'billing', item: { label: 'billing' } });
  check(run.reward === 1, `grader run reward ${run.reward}`);

  const del = await client.files.delete(small.id);
  check(del.deleted === true, 'file deleted');
  const mdel = await client.models.delete(done.fine_tuned_model);
  check(mdel.deleted === true, 'model deleted');
  await expectError(new OpenAI({ baseURL: `${URL_}/v1`, apiKey: 'sk-wrong', maxRetries: 0 }).files.list(), 'wrong key 401', (e) => e.status === 401);
}

async function azureFlow() {
  const client = new AzureOpenAI({ endpoint: URL_, apiKey: KEY, apiVersion: '2024-10-21', maxRetries: 2 });
  const f = await client.files.create({ file: await toFile(chat(10, 'azure'), 'azure.jsonl'), purpose: 'fine-tune' });
  check(f.status === 'pending' || f.status === 'processed', `azure file created ${f.status}`);
  let st = f.status;
  for (let i = 0; i < 100 && st !== 'processed'; i++) {
    await sleep(100);
    st = (await client.files.retrieve(f.id)).status;
  }
  check(st === 'processed', 'azure file processed');
  const job = await client.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: f.id, suffix: 'az' });
  const done = await waitStatus(client, job.id, ['succeeded', 'failed']);
  check(done.status === 'succeeded' && done.fine_tuned_model?.includes('.ft-'), `azure job succeeded ${done.fine_tuned_model}`);
  const events = [];
  for await (const e of client.fineTuning.jobs.listEvents(job.id)) events.push(e);
  check(events.length > 3, `azure events (${events.length})`);
  const files = [];
  for await (const x of client.files.list()) files.push(x.id);
  check(files.includes(f.id), 'azure files listed');
  const d = await client.files.delete(f.id);
  check(d.deleted === true, 'azure file deleted');
}

try {
  await openaiFlow();
  await azureFlow();
} catch (e) {
  check(false, `unexpected: ${e?.status ?? ''} ${e?.message ?? e}`);
  console.error(e);
}
console.log(failed ? `${failed} SDK checks FAILED` : `all SDK checks passed (openai node ${SDK_VERSION})`);
process.exit(failed ? 1 : 0);
