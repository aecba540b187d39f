// The page's app: fedveil's browser bundle (fedveil-client.js, next to this
// file), the model of model.mjs built with the bundle's tfjs, and this tab's
// own data. Parameters come from the URL hash:
//   #url=ws://host:port/&authority=HEX&secret=HEX&cert=HEX
// (the identity and certificate of this client, issued by the authority).
import { runBrowserClient, tf, ed25519PublicKey } from './fedveil-client.js';
import { buildModel, regionOf } from './model.mjs';

const params = new URLSearchParams(location.hash.slice(1));
const fromHex = (h) => Uint8Array.from(h.match(/../g).map((b) => parseInt(b, 16)));
const state = { status: 'running', completed: 0, error: null, log: [] };
window.fedveilExample = state;
const log = (line) => {
  state.log.push(line);
  document.getElementById('log').textContent += `${line}\n`;
};

// This tab's own data: 80 points, labelled by region (crypto.getRandomValues, no Math.random).
function localData(n) {
  const raw = new Uint32Array(2 * n);
  crypto.getRandomValues(raw);
  const xs = [];
  const labels = [];
  for (let i = 0; i < n; i++) {
    const x = (raw[2 * i] / 2 ** 32) * 4 - 2;
    const y = (raw[2 * i + 1] / 2 ** 32) * 4 - 2;
    xs.push([x, y]);
    labels.push(regionOf(x, y));
  }
  return { xs, labels };
}

const secret = fromHex(params.get('secret'));
try {
  const summary = await runBrowserClient({
    url: params.get('url'),
    identity: { secretKey: secret, publicKey: ed25519PublicKey(secret) },
    certificate: fromHex(params.get('cert')),
    policy: { authorities: [params.get('authority')], minRoster: 3, minThreshold: 2, colluders: 0, minHonest: 2, evaluation: true },
    app: { model: () => buildModel(tf), data: localData(80), evaluationData: localData(40), training: { epochs: 2, batchSize: 10, learningRate: 0.2 } },
    reconnect: false,
    onLog: log,
    onEvent: (ev) => {
      if (ev.type === 'round-end' && ev.ok && ev.included) state.completed++;
    },
  });
  state.status = 'done';
  log(`done: ${JSON.stringify(summary)}`);
} catch (err) {
  state.status = 'failed';
  state.error = String(err && err.message ? err.message : err);
  log(`failed: ${state.error}`);
}
