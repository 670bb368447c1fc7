// serve_cache.mjs — what the engine's model cache saves per job in `ltx2c serve`.
//
// Method: two servers on 127.0.0.1 over copies of the tiny models (tests/serve/serve_lib.mjs),
// one with the default cache (--cache-mb 16384) and one with --cache-mb 0 (every model loaded
// per job, as the CLI does). Each gets the same N distilled jobs one after the other (same
// checkpoint, prompts differ, 64x128, 9 frames), and the script prints each job's per-stage
// timings and model-cache hits/misses from GET /v1/jobs/{id}, then the ratio of the mean of
// jobs 2..N with the cache to the same jobs without it (the baseline of the same run).
// The tiny models load in milliseconds except Gemma/tokenizer (seconds); real-size models load
// in tens of seconds (the 22B transformer), so the absolute savings here are only the tiny
// models'. Timings on a shared machine are noisy: repeat and compare ratios, not single runs.
// usage: node bench/serve_cache.mjs LTX2C_BIN TESTS_DATA_DIR TOKENIZER_JSON [N=3]
import { check, finished, http, jobBody, makeTree, startServer, stopServer, waitJob } from
  '../tests/serve/serve_lib.mjs';

const N = Number(process.argv[5] || 3);
const KEYS = ['total', 'setup', 'prompt_encoding', 'transformer_load', 'vae_load', 'stage1',
  'upsample', 'stage2', 'video_decode', 'audio_decode', 'mp4_write'];

async function runJobs(cacheMb) {
  const tree = makeTree(`bench${cacheMb}`);
  const srv = await startServer(tree, ['--cache-mb', String(cacheMb)]);
  const jobs = [];
  for (let i = 0; i < N; i++) {
    const r = await http(srv, 'POST', '/v1/jobs', jobBody({ prompt: `A red fox, take ${i}` }));
    check(r.status === 202, `submit: ${r.status}`);
    const j = await waitJob(srv, r.json.id, finished, 300);
    check(j.state === 'done', `job: ${JSON.stringify(j)}`);
    jobs.push(j);
  }
  await stopServer(srv);
  return jobs;
}

function table(name, jobs) {
  console.log(`\n${name}`);
  console.log(['job', ...KEYS, 'hits', 'misses'].map((k) => k.padStart(16)).join(''));
  jobs.forEach((j, i) => console.log([String(i + 1), ...KEYS.map((k) => (j.timings[k] ?? 0).toFixed(4)),
    String(j.model_cache.hits), String(j.model_cache.misses)].map((v) => v.padStart(16)).join('')));
}

const mean = (jobs, k) => jobs.reduce((a, j) => a + (j.timings[k] ?? 0), 0) / jobs.length;

const on = await runJobs(16384);
const off = await runJobs(0);
table('cache on (--cache-mb 16384)', on);
table('cache off (--cache-mb 0)', off);
console.log('\nmean of jobs 2..N, cache on / cache off:');
for (const k of ['total', 'prompt_encoding', 'transformer_load', 'vae_load', 'stage1', 'stage2']) {
  const a = mean(on.slice(1), k), b = mean(off.slice(1), k);
  console.log(`  ${k.padEnd(18)} ${a.toFixed(4)} s / ${b.toFixed(4)} s = ${b > 0 ? (a / b).toFixed(3) : 'n/a'}`);
}
process.exit(0);
