// ltx2c serve — the web page's logic: fills the model pickers from GET /v1/models, uploads
// inputs (POST /v1/uploads), submits jobs (POST /v1/jobs with the CLI's flags as JSON keys),
// follows running jobs over SSE (GET /v1/jobs/{id}/events), cancels/deletes them and plays
// results. No framework, no build step.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { jobs: new Map(), streams: new Map(), selected: null, mine: new Set() };

// ---- pipelines: which inputs each one takes ----
const PIPES = {
  distilled: { ckpt: 'distilled-checkpoint-path', ups: 1, image: 1, size: 1 },
  ti2vid_one_stage: { ckpt: 'checkpoint-path', image: 1, size: 1, steps: 1 },
  ti2vid_two_stages: { ckpt: 'checkpoint-path', ups: 1, dlora: 1, image: 1, size: 1, steps: 1 },
  ti2vid_two_stages_hq: { ckpt: 'checkpoint-path', ups: 1, dlora: 1, image: 1, size: 1, steps: 1 },
  keyframe_interpolation: { ckpt: 'checkpoint-path', ups: 1, dlora: 1, image: 1, size: 1 },
  a2vid_two_stage: { ckpt: 'checkpoint-path', ups: 1, dlora: 1, image: 1, audio: 1, size: 1 },
  retake: { ckpt: 'distilled-checkpoint-path', video: 'video-path', window: 1 },
  ic_lora: { ckpt: 'distilled-checkpoint-path', ups: 1, image: 1, video: 'video-conditioning', size: 1 },
};

function token() { return $('token').value.trim(); }
function authHeaders() { return token() ? { Authorization: 'Bearer ' + token() } : {}; }
function withToken(url) { return token() ? url + (url.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(token()) : url; }

async function api(method, url, body, raw) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) init.body = raw ? body : JSON.stringify(body);
  const r = await fetch(url, init);
  let json = null;
  try { json = await r.json(); } catch { /* empty */ }
  if (!r.ok) throw new Error((json && json.error) || `${r.status} ${r.statusText}`);
  return json;
}

function showFields() {
  const p = PIPES[$('pipeline').value];
  const show = (key, on) => document.querySelectorAll(`[data-for="${key}"]`).forEach((e) => { e.style.display = on ? '' : 'none'; });
  show('ups', p.ups); show('dlora', p.dlora); show('image', p.image); show('audio', p.audio);
  show('video', p.video); show('window', p.window);
  for (const id of ['width', 'height', 'frames']) $(id).closest('label').style.display = p.size ? '' : 'none';
}

async function loadModels() {
  try {
    const { models } = await api('GET', '/v1/models');
    for (const sel of document.querySelectorAll('select.model')) {
      const kind = sel.dataset.kind;
      sel.innerHTML = '';
      for (const m of models.filter((x) => x.kind.startsWith(kind))) {
        const o = document.createElement('option');
        o.value = m.path;
        o.textContent = m.path + (m.bytes ? `  (${(m.bytes / 1048576).toFixed(1)} MB)` : '');
        sel.appendChild(o);
      }
      // prefer the x2 upsampler and the LTX checkpoint by name
      const pref = [...sel.options].find((o) => /x2\.safetensors|22b-d|dev|distilled-lora/.test(o.value));
      if (pref) sel.value = pref.value;
    }
  } catch (e) { setMsg('models: ' + e.message, true); }
}

async function upload(input) {
  const f = input.files[0];
  if (!f) return null;
  const r = await api('POST', '/v1/uploads?name=' + encodeURIComponent(f.name), f, true);
  return r.path;
}

function setMsg(text, err) { $('form-msg').textContent = text; $('form-msg').className = 'msg' + (err ? ' err' : ''); }

async function submit(ev) {
  ev.preventDefault();
  const pipeline = $('pipeline').value, p = PIPES[pipeline];
  const body = { pipeline, prompt: $('prompt').value, seed: Number($('seed').value) };
  body[p.ckpt] = $('ckpt').value;
  body['gemma-root'] = $('gemma').value;
  if ($('tokenizer').value.trim()) body.tokenizer = $('tokenizer').value.trim();
  if (p.ups) body['spatial-upsampler-path'] = $('ups').value;
  if (p.dlora) body['distilled-lora'] = [[$('dlora').value]];
  if (p.size) Object.assign(body, { width: Number($('width').value), height: Number($('height').value), 'num-frames': Number($('frames').value) });
  if (p.window) Object.assign(body, { 'start-time': Number($('start').value), 'end-time': Number($('end').value) });
  $('submit').disabled = true;
  setMsg('submitting…');
  try {
    if (p.image && $('image').files[0]) body.image = [[await upload($('image')), 0, 1.0]];
    if (p.audio && $('audio').files[0]) body['audio-path'] = await upload($('audio'));
    if (p.video && $('video').files[0]) {
      const v = await upload($('video'));
      body[p.video] = p.video === 'video-path' ? v : [[v, 1.0]];
    }
    const { id } = await api('POST', '/v1/jobs', body);
    state.mine.add(id);
    setMsg('queued ' + id);
    await refresh();
  } catch (e) { setMsg(e.message, true); }
  $('submit').disabled = false;
}

function follow(id) {
  if (state.streams.has(id)) return;
  const es = new EventSource(withToken(`/v1/jobs/${id}/events`));
  const on = (ev) => {
    const j = JSON.parse(ev.data);
    state.jobs.set(j.id, j);
    render();
    if (ev.type === 'end') {
      es.close();
      state.streams.delete(id);
      if (j.state === 'done' && state.mine.has(id)) play(id);
    }
  };
  es.addEventListener('progress', on);
  es.addEventListener('end', on);
  es.onerror = () => { es.close(); state.streams.delete(id); };
  state.streams.set(id, es);
}

async function refresh() {
  try {
    const r = await api('GET', '/v1/jobs');
    const seen = new Set();
    for (const j of r.jobs) {
      seen.add(j.id);
      const old = state.jobs.get(j.id);
      if (!old || old.seq <= j.seq) state.jobs.set(j.id, j);
      if (j.state === 'queued' || j.state === 'running') follow(j.id);
    }
    for (const id of [...state.jobs.keys()]) if (!seen.has(id)) state.jobs.delete(id);
    if (!state.selected) { /* show the newest finished result on first load */
      const done = r.jobs.filter((j) => j.state === 'done').sort((a, b) => b.created - a.created)[0];
      if (done) play(done.id, false);
    }
    $('queue-count').textContent = `${r.queued} waiting / ${r.queue_max}`;
    render();
  } catch (e) { setMsg(e.message, true); }
}

function fmtEta(s) { return s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`; }

function render() {
  const ul = $('jobs');
  const jobs = [...state.jobs.values()].sort((a, b) => b.created - a.created);
  ul.innerHTML = jobs.length ? '' : '<li class="empty">No jobs yet: fill the form and press Generate.</li>';
  for (const j of jobs) {
    const li = document.createElement('li');
    li.dataset.id = j.id;
    if (j.id === state.selected) li.className = 'sel';
    const pct = j.state === 'done' ? 100 : j.total ? Math.round((100 * j.step) / j.total) : 0;
    const detail = j.state === 'running'
      ? `${j.stage} ${j.step}/${j.total}${j.total ? ' · ETA ' + fmtEta(j.eta_s) : ''}`
      : j.timings && j.timings.total ? `${j.timings.total.toFixed(1)} s` : '';
    li.innerHTML = `<div class="job-title"></div><span class="state ${j.state}">${j.state}</span>
      <div class="job-meta"></div><div class="btns"></div>
      <div class="bar"><div style="width:${pct}%"></div></div>`;
    li.querySelector('.job-title').textContent = `${j.pipeline} · ${j.id}`;
    li.querySelector('.job-meta').textContent = detail;
    const btn = document.createElement('button');
    btn.className = 'ghost';
    btn.textContent = j.state === 'queued' || j.state === 'running' ? 'Cancel' : 'Delete';
    btn.onclick = async (e) => {
      e.stopPropagation();
      try { await api('DELETE', `/v1/jobs/${j.id}`); } catch (err) { setMsg(err.message, true); }
      refresh();
    };
    li.querySelector('.btns').appendChild(btn);
    if (j.error) {
      const d = document.createElement('div');
      d.className = 'job-err';
      d.textContent = j.error;
      li.appendChild(d);
    }
    if (j.state === 'done') li.onclick = () => play(j.id);
    ul.appendChild(li);
  }
}

function play(id, autoplay = true) {
  state.selected = id;
  const v = $('player');
  v.src = withToken(`/v1/jobs/${id}/result`);
  $('player-title').textContent = id;
  if (autoplay) v.play().catch(() => { /* autoplay may be refused; the controls remain */ });
  render();
}

async function health() {
  try {
    const r = await fetch('/healthz');
    $('health').textContent = r.ok ? 'server ok' : 'server error';
    $('health').className = 'health ' + (r.ok ? 'ok' : 'bad');
  } catch { $('health').textContent = 'server unreachable'; $('health').className = 'health bad'; }
}

$('token').value = localStorage.getItem('ltx2c-token') || '';
$('token').addEventListener('change', () => { localStorage.setItem('ltx2c-token', token()); loadModels(); refresh(); });
$('pipeline').addEventListener('change', showFields);
$('job-form').addEventListener('submit', submit);
showFields();
health();
loadModels();
refresh();
setInterval(refresh, 3000);
setInterval(health, 10000);
