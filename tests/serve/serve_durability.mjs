// serve_durability.mjs — `ltx2c serve` under load and crashes, on the tiny models (127.0.0.1,
// free port): 20 concurrent submissions against --queue 3 are each answered 202 or 429 (queue
// full), every accepted job is listed and finishes with an mp4 ffprobe accepts (none lost);
// then kill -9 in the middle of a job and a restart on the same --jobs-dir: the running job
// is failed "interrupted", the finished ones keep their results byte for byte.
// usage: node serve_durability.mjs LTX2C_BIN TESTS_DATA_DIR TOKENIZER_JSON
import crypto from 'node:crypto';
import {
  check, checkMp4, deadline, finished, http, jobBody, makeTree, startServer, stopServer, waitJob,
} from './serve_lib.mjs';

deadline(280);
const tree = makeTree('dur');
let srv = await startServer(tree, ['--queue', '3']);

// ---- 20 concurrent submissions ----
const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
  http(srv, 'POST', '/v1/jobs', jobBody({ seed: 100 + i }))));
const accepted = rs.filter((r) => r.status === 202).map((r) => r.json.id);
const full = rs.filter((r) => r.status === 429);
check(accepted.length + full.length === 20, `statuses: ${rs.map((r) => r.status).join(',')}`);
check(full.length > 0 && full.every((r) => /queue full/.test(r.json.error)), 'no 429 (queue full) answer');
check(accepted.length >= 3 && new Set(accepted).size === accepted.length, `accepted ${accepted.length}`);
const listed = new Set((await http(srv, 'GET', '/v1/jobs')).json.jobs.map((j) => j.id));
check(accepted.every((id) => listed.has(id)) && listed.size === accepted.length, 'a job was lost or invented');
const hashes = {};
for (const id of accepted) {
  const j = await waitJob(srv, id, finished, 120);
  check(j.state === 'done', `job ${id}: ${JSON.stringify(j)}`);
  const r = await http(srv, 'GET', j.result);
  checkMp4(r.bytes, tree, `${id}.mp4`, 64, 128, 9);
  hashes[id] = crypto.createHash('sha256').update(r.bytes).digest('hex');
}
check(new Set(Object.values(hashes)).size === accepted.length, 'different seeds gave identical videos');
console.log(`concurrency: 20 submissions -> ${accepted.length} accepted (202), ${full.length} refused (429 queue full); ` +
  'every accepted job listed, done, ffprobe ok, distinct outputs');

// ---- queue full, sequentially: the worker busy, 3 waiting, the next is 429 ----
const busy = (await http(srv, 'POST', '/v1/jobs', jobBody({ height: 256, width: 384, 'num-frames': 33 }))).json.id;
await waitJob(srv, busy, (j) => j.state === 'running');
const waiting = [];
for (let i = 0; i < 3; i++) {
  const r = await http(srv, 'POST', '/v1/jobs', jobBody());
  check(r.status === 202, `queued ${i}: ${r.status}`);
  waiting.push(r.json.id);
}
let r = await http(srv, 'POST', '/v1/jobs', jobBody());
check(r.status === 429, `4th waiting job: ${r.status}`);
for (const id of waiting) await http(srv, 'DELETE', `/v1/jobs/${id}`);
console.log('queue-full: 3 waiting + 1 running, the next submission 429');

// ---- kill -9 mid-job, restart ----
await waitJob(srv, busy, (j) => j.state === 'running' && j.stage === 'stage1' && j.step >= 1);
const kill = await stopServer(srv, 'SIGKILL');
check(kill.sig === 'SIGKILL', 'server not killed');
srv = await startServer(tree, ['--queue', '3']);
const after = await http(srv, 'GET', `/v1/jobs/${busy}`);
check(after.json.state === 'failed' && /^interrupted/.test(after.json.error), `after restart: ${JSON.stringify(after.json)}`);
for (const id of accepted) {
  const j = (await http(srv, 'GET', `/v1/jobs/${id}`)).json;
  check(j.state === 'done', `finished job ${id} after restart: ${JSON.stringify(j)}`);
  const b = (await http(srv, 'GET', j.result)).bytes;
  check(crypto.createHash('sha256').update(b).digest('hex') === hashes[id], `result of ${id} changed`);
}
for (const id of waiting) {
  const j = (await http(srv, 'GET', `/v1/jobs/${id}`)).json;
  check(j.state === 'cancelled', `cancelled job ${id} after restart: ${j.state}`);
}
// the restarted server still runs jobs
r = await http(srv, 'POST', '/v1/jobs', jobBody());
check(r.status === 202, `submit after restart: ${r.status}`);
check((await waitJob(srv, r.json.id, finished)).state === 'done', 'job after restart failed');
console.log(`kill -9: the running job is failed "${after.json.error}"; ${accepted.length} earlier results intact (sha256)`);
await stopServer(srv);
console.log('serve_durability: ok');
process.exit(0);
