// serve_browser.mjs — the `ltx2c serve` web page in headless Chromium (Debian's chromium driven
// by playwright-core from .cache/npm, both installed by scripts/setup.sh): load /, see the model
// pickers filled from /v1/models, submit a tiny job from the form, watch its progress bar move
// (SSE), and see the <video> element get the job's result as a source that loads (metadata,
// duration > 0). With LTX_SERVE_SCREENSHOT=PATH it also saves a screenshot taken mid-job (how
// docs/serve.png is made).
// usage: node serve_browser.mjs LTX2C_BIN TESTS_DATA_DIR TOKENIZER_JSON
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, deadline, fail, makeTree, startServer, stopServer } from './serve_lib.mjs';

deadline(240);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let chromium;
try {
  chromium = createRequire(path.join(repo, '.cache/npm/package.json'))('playwright-core').chromium;
} catch (e) {
  fail('playwright-core is not installed in .cache/npm: run scripts/setup.sh (' + e.message + ')');
}

const tree = makeTree('web');
const srv = await startServer(tree);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(srv.base + '/');
  await page.waitForFunction(() => document.querySelector('#ckpt').options.length > 0 &&
    document.querySelector('#gemma').options.length > 0, null, { timeout: 20000 });
  check(await page.inputValue('#ckpt') === 'tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors', 'checkpoint picker');
  check(await page.inputValue('#ups') === 'tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors', 'upsampler picker');
  await page.fill('#tokenizer', 'tokenizer.json');
  await page.fill('#width', '384');
  await page.fill('#height', '256');
  await page.fill('#frames', '49');
  await page.fill('#prompt', 'A red fox trots through fresh snow at dawn');
  await page.click('#submit');
  await page.waitForFunction(() => /queued/.test(document.querySelector('#form-msg').textContent), null, { timeout: 20000 });

  // the progress bar of the running job, sampled until the job ends
  const widths = [];
  let shot = false;
  for (let i = 0; i < 2000; i++) {
    const s = await page.evaluate(() => {
      const li = document.querySelector('#jobs li');
      if (!li || !li.dataset.id) return null;
      return { state: li.querySelector('.state').textContent, width: li.querySelector('.bar > div').style.width,
        meta: li.querySelector('.job-meta').textContent };
    });
    if (s && s.state === 'running') {
      if (widths[widths.length - 1] !== s.width) widths.push(s.width);
      if (!shot && process.env.LTX_SERVE_SCREENSHOT && /stage1 [3-6]\//.test(s.meta)) {
        await page.screenshot({ path: process.env.LTX_SERVE_SCREENSHOT });
        shot = true;
      }
    }
    if (s && ['done', 'failed', 'cancelled'].includes(s.state)) {
      check(s.state === 'done', `job ended ${s.state}`);
      break;
    }
    await page.waitForTimeout(25);
  }
  const pct = widths.map((w) => parseFloat(w));
  check(pct.length >= 3 && pct.some((w, i) => i > 0 && w > pct[i - 1]) && pct.some((w) => w > 0 && w < 100),
    `progress bar did not move: ${widths.join(' ')}`);
  // the player gets the result and loads it
  await page.waitForFunction(() => /\/v1\/jobs\/[0-9a-f]+\/result/.test(document.querySelector('#player').src), null, { timeout: 20000 });
  const media = await page.evaluate(() => new Promise((resolve) => {
    const v = document.querySelector('#player');
    const done = () => resolve({ ready: v.readyState, duration: v.duration, w: v.videoWidth, h: v.videoHeight,
      err: v.error && v.error.code, canPlay: v.canPlayType('video/mp4; codecs="avc1.42E01E, mp4a.40.2"') });
    if (v.readyState >= 1) done();
    else { v.addEventListener('loadedmetadata', done); v.addEventListener('error', done); setTimeout(done, 15000); }
  }));
  check(!media.err && media.ready >= 1 && media.duration > 0 && media.w === 384 && media.h === 256,
    `video element: ${JSON.stringify(media)}`);
  check(errors.length === 0, 'page errors: ' + errors.join('; '));
  console.log(`browser: progress bar ${pct.length} distinct widths (${pct[0]}% .. ${pct[pct.length - 1]}%); ` +
    `video ${media.w}x${media.h}, ${media.duration.toFixed(2)} s, readyState ${media.ready}`);
} finally {
  await browser.close();
}
await stopServer(srv);
console.log('serve_browser: ok');
process.exit(0);
