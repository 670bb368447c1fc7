// serve_lib.mjs — helpers of the `ltx2c serve` tests: a models folder with copies of the tiny
// models, starting/stopping servers on 127.0.0.1 with a free port (--port 0, the bound port read
// from the server's first stdout line), HTTP and SSE helpers, ffprobe. Every server started here
// is killed when the process exits.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const [BIN, DATA, TOKENIZER] = process.argv.slice(2);
const servers = new Set();

export function fail(msg) {
  console.error('FAIL: ' + msg);
  for (const s of servers) s.proc.kill('SIGKILL');
  process.exit(1);
}
export function check(cond, msg) {
  if (!cond) fail(msg);
}
process.on('exit', () => {
  for (const s of servers) s.proc.kill('SIGKILL');
});
process.on('unhandledRejection', (e) => fail('unhandled: ' + (e && e.stack ? e.stack : e)));

// A bound on the whole test: a hung server or job fails it instead of stalling ctest.
export function deadline(seconds) {
  setTimeout(() => fail(`did not finish within ${seconds} s`), seconds * 1000).unref();
}

// tmp/models with the tiny checkpoint, upsampler, Gemma and tokenizer (copies, so that the
// folder holds no symlink leaving it) and tmp/outside (a folder the server must never touch).
export function makeTree(name) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `ltx_serve_${name}_`));
  const models = path.join(root, 'models');
  fs.mkdirSync(path.join(models, 'tiny_ckpt'), { recursive: true });
  for (const f of ['tiny-ltx-2.3-22b-dev.safetensors', 'tiny-ltx-2.3-spatial-upscaler-x2.safetensors'])
    fs.copyFileSync(path.join(DATA, 'golden/tiny_ckpt', f), path.join(models, 'tiny_ckpt', f));
  fs.cpSync(path.join(DATA, 'golden/tiny_gemma'), path.join(models, 'tiny_gemma'), { recursive: true });
  fs.copyFileSync(TOKENIZER, path.join(models, 'tokenizer.json'));
  fs.mkdirSync(path.join(root, 'outside'));
  process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  return { root, models, jobs: path.join(root, 'jobs'), outside: path.join(root, 'outside') };
}

export function jobBody(extra = {}) {
  return {
    pipeline: 'distilled',
    'distilled-checkpoint-path': 'tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors',
    'spatial-upsampler-path': 'tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors',
    'gemma-root': 'tiny_gemma',
    tokenizer: 'tokenizer.json',
    prompt: 'A red fox trots through snow',
    height: 64, width: 128, 'num-frames': 9, seed: 7,
    ...extra,
  };
}

export async function startServer(tree, args = []) {
  const proc = spawn(BIN, ['serve', '--models', tree.models, '--jobs-dir', tree.jobs,
    '--host', '127.0.0.1', '--port', '0', '--device', 'cpu', '--threads', '2', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const srv = { proc, log: '' };
  servers.add(srv);
  proc.stderr.on('data', (d) => { srv.log += d; });
  srv.exited = new Promise((r) => proc.on('exit', (code, sig) => { servers.delete(srv); r({ code, sig }); }));
  const port = await new Promise((resolve) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', () => resolve(0));
  });
  check(port > 0, 'server did not start: ' + srv.log);
  srv.base = `http://127.0.0.1:${port}`;
  return srv;
}

export async function stopServer(srv, signal = 'SIGTERM') {
  srv.proc.kill(signal);
  return srv.exited;
}

export async function http(srv, method, url, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const r = await fetch(srv.base + url, init);
  const buf = new Uint8Array(await r.arrayBuffer());
  let json = null;
  try { json = JSON.parse(new TextDecoder().decode(buf)); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, bytes: buf };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls GET /v1/jobs/{id} until pred(job) holds (or fails after `seconds`).
export async function waitJob(srv, id, pred, seconds = 120, headers = {}) {
  const t0 = Date.now();
  for (;;) {
    const r = await http(srv, 'GET', `/v1/jobs/${id}`, undefined, headers);
    check(r.status === 200, `GET job ${id}: ${r.status}`);
    if (pred(r.json)) return r.json;
    if (Date.now() - t0 > seconds * 1000) fail(`job ${id} stuck: ${JSON.stringify(r.json)}`);
    await sleep(20);
  }
}

export const finished = (j) => ['done', 'failed', 'cancelled'].includes(j.state);

// Reads the SSE stream of a job to its end: [{id, event, data}].
export async function readEvents(srv, id) {
  const r = await fetch(`${srv.base}/v1/jobs/${id}/events`);
  check(r.status === 200 && r.headers.get('content-type') === 'text/event-stream', `events: ${r.status}`);
  const dec = new TextDecoder();
  let buf = '';
  const events = [];
  for await (const chunk of r.body) {
    buf += dec.decode(chunk, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, k);
      buf = buf.slice(k + 2);
      const ev = {};
      for (const line of block.split('\n')) {
        const m = /^(id|event|data): (.*)$/.exec(line);
        if (m) ev[m[1]] = m[2];
      }
      if (ev.data) events.push({ ...ev, data: JSON.parse(ev.data) });
    }
  }
  return events;
}

// ffprobe's view of an mp4 (throws when ffprobe refuses it).
export function probe(file) {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries',
    'stream=codec_type,codec_name,width,height,nb_frames', '-of', 'json', file]);
  return JSON.parse(out).streams;
}

export function checkMp4(bytes, tree, name, h, w, frames) {
  const f = path.join(tree.root, name);
  fs.writeFileSync(f, bytes);
  const st = probe(f);
  const v = st.find((s) => s.codec_type === 'video');
  const a = st.find((s) => s.codec_type === 'audio');
  check(v && v.codec_name === 'h264' && v.width === w && v.height === h && Number(v.nb_frames) === frames,
    `${name}: video stream ${JSON.stringify(v)}`);
  check(a && a.codec_name === 'aac', `${name}: audio stream ${JSON.stringify(a)}`);
  fs.rmSync(f);
}
